"""For tests in a real browser (Debian's chromium, headless): skipped when none is installed,
unless REDUN_FAST_REQUIRE_BROWSER=1 (CI sets it), which makes a missing browser a failure."""
import os
import re
import shutil
import subprocess
from typing import List, NamedTuple, Optional

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Where tests leave what a person should look at (screenshots): CI keeps the folder.
ARTIFACTS = os.environ.get("REDUN_FAST_ARTIFACTS") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-artifacts")


def browser() -> str:
    """The browser's command; skips the test (fails it in CI) when there is none."""
    found = next((path for path in map(shutil.which, BROWSERS) if path), None)
    if found is not None:
        return found
    if os.environ.get("REDUN_FAST_REQUIRE_BROWSER") == "1":
        raise RuntimeError("no chromium to load pages in: apt-get install chromium")
    pytest.skip("no browser: install Debian's chromium (apt-get install chromium)")


class Loaded(NamedTuple):
    dom: str  # the page's DOM once its scripts ran
    errors: List[str]  # script errors, as the browser's console reported them


def load(path: str, screenshot: Optional[str] = None, width: int = 1300,
         height: int = 1400) -> Loaded:
    """Load a local page headless: its DOM after its scripts ran, the script errors the
    console reported, and (if asked) a screenshot of the window."""
    command = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--enable-logging=stderr", "--v=0", "--no-first-run",
               f"--user-data-dir={os.path.dirname(os.path.abspath(path))}/.browser-profile",
               f"--window-size={width},{height}"]
    url = "file://" + os.path.abspath(path)
    dom = subprocess.run(command + ["--dump-dom", url], capture_output=True, text=True,
                         timeout=120)
    if dom.returncode != 0:
        raise RuntimeError(f"the browser failed ({dom.returncode}): {dom.stderr[-2000:]}")
    if screenshot is not None:
        shot = subprocess.run(command + [f"--screenshot={screenshot}", url],
                              capture_output=True, text=True, timeout=120)
        if shot.returncode != 0 or not os.path.exists(screenshot):
            raise RuntimeError(f"no screenshot ({shot.returncode}): {shot.stderr[-2000:]}")
    errors = [line for line in dom.stderr.splitlines()
              if re.search(r"CONSOLE.*(Uncaught|Error)", line)]
    return Loaded(dom.stdout, errors)
