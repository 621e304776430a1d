"""For tests that run redun 0.44.1 itself (an oracle): skipped when it is not installed, unless
REDUN_FAST_REQUIRE_REDUN=1 (CI sets it), which makes a missing redun a failure."""
import os
import subprocess
import sys

import pytest


def _redun_installed() -> bool:
    try:
        return subprocess.run([sys.executable, "-c", "import redun"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


requires_redun = pytest.mark.skipif(
    not _redun_installed() and os.environ.get("REDUN_FAST_REQUIRE_REDUN") != "1",
    reason="redun is not installed (pip install -e '.[test]' installs it)")
