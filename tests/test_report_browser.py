"""The run report in a real browser (headless chromium): its script runs without errors and
the page shows the run; a screenshot is left in test-artifacts/ for a person to look at.
Skipped without a browser, required in CI (needs_browser.py)."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from needs_browser import ARTIFACTS, load
from test_cli_cache import redun_fast

pytestmark = pytest.mark.timeout(300)

WORKFLOW = """
import sys
from redun_fast import Scheduler, catch, task
redun_namespace = "browser"

@task
def align(sample):
    return sum(i * i for i in range(20000 * (sample % 5 + 1)))

@task
def flaky(sample):
    if sample % 7 == 0:
        raise ValueError(f"sample {sample}: truncated reads")
    return sample

@task
def recover(error):
    return -1

@task
def main(n):
    return {"aligned": [align(i) for i in range(n)],
            "checked": [catch(flaky(i), ValueError, recover) for i in range(n)]}

Scheduler(cache_dir=sys.argv[1], executor="processes").run(main(int(sys.argv[2])))
"""


def test_the_report_loads_without_script_errors_and_shows_the_run(tmp_path):
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    cache = tmp_path / "cache"
    for n in (40, 60):  # the second run replays the first 40 samples
        subprocess.run([sys.executable, str(tmp_path / "wf.py"), str(cache), str(n)],
                       check=True, capture_output=True, timeout=120)
    page = tmp_path / "report.html"
    assert redun_fast("report", "-o", str(page), cache=cache).returncode == 0
    os.makedirs(ARTIFACTS, exist_ok=True)
    screenshot = os.path.join(ARTIFACTS, "report.png")
    loaded = load(str(page), screenshot=screenshot)
    assert loaded.errors == []
    assert re.search(r'<html lang="en" data-ready="yes">', loaded.dom)  # its script ran
    assert "data-errors" not in loaded.dom
    counts = dict(re.findall(r'id="count-(\w+)"><b>([\d,]+)</b>', loaded.dom))
    # Of 60 samples, flaky fails (recovered) for 9 (0, 7, ..., 56). Of the first run's 40, the
    # 34 flaky successes, 40 aligns and the 6 recoveries replay, and the 6 catches that
    # recovered are not run again (a handled error is cached, as redun caches it): the second
    # run's failures are those of samples 42, 49 and 56.
    assert counts["failed"] == "3"
    assert counts["cached"] == "80"
    assert os.path.getsize(screenshot) > 10_000  # a picture, not a blank page


def test_a_script_error_on_the_page_is_caught(tmp_path):
    # The check above must be able to fail: a page whose script throws.
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script>"
                    "</body></html>")
    assert load(str(page)).errors
