"""The README's first command: the fan-out example runs and its second run is all cached."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_fanout_example_runs_and_replays_from_cache():
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "fanout.py"), "30"],
        capture_output=True, text=True, check=True, timeout=120,
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("first run: {'samples': 30, 'mean_gc': ")
    assert lines[1].startswith("second run (replayed from the cache): {'samples': 30, ")
    assert lines[0].split(": ", 1)[1].rsplit(" in ", 1)[0] == lines[1].split(": ", 1)[1].rsplit(" in ", 1)[0]
    all_row = next(line for line in lines if line.startswith("| ALL"))
    pending, running, failed, cached, done, total = map(int, all_row.split()[2:])
    # 30 simulate + 30 gc + main + summarize, once run and once cached.
    assert (failed, cached, done, total) == (0, 62, 62, 124)
    assert re.search(r"in \d+\.\d\d s$", lines[1])
