"""The `redun_fast` console script, run in a workflow's folder on that folder's own cache, for
the command-line tests."""
import os
import subprocess


def redun_fast(folder, *args):
    env = {**os.environ, "REDUN_FAST_CACHE_DIR": str(folder / "cache"),
           "PYTHONPATH": str(folder)}
    return subprocess.run(["redun_fast", *args], cwd=folder, capture_output=True, text=True,
                          env=env, timeout=120)
