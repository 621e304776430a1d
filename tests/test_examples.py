"""The README's first command: the fan-out example runs, and a second run is replayed from the cache."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_example(cwd, env=None):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "fanout.py"), "30"],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=True,
        timeout=120,
    )
    lines = result.stdout.splitlines()
    all_row = next(line for line in lines if line.startswith("| ALL"))
    pending, running, failed, cached, done, total = map(int, all_row.split()[2:])
    return lines[0].rsplit(" in ", 1)[0], (failed, cached, done, total)


def test_fanout_example_caches_in_dot_redun_fast(tmp_path):
    env = {"REDUN_FAST_CACHE_DIR": ""}
    first, counts = run_example(tmp_path, env)
    assert first.startswith("{'samples': 30, 'mean_gc': ")
    assert counts == (0, 0, 62, 62)  # 30 simulate + 30 gc_content + main + summarize
    assert (tmp_path / ".redun_fast" / "data.mdb").exists()
    again, counts = run_example(tmp_path, env)
    assert again == first and counts == (0, 62, 0, 62)


def test_fanout_example_honours_the_cache_dir_variable(tmp_path):
    run_example(tmp_path, {"REDUN_FAST_CACHE_DIR": str(tmp_path / "elsewhere")})
    assert (tmp_path / "elsewhere" / "data.mdb").exists()
    assert not (tmp_path / ".redun_fast").exists()
