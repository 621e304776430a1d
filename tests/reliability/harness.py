"""Running workflow.py in subprocesses and reading what they left behind."""
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set

from redun_fast._core import eval_digest
from redun_fast.cache.lmdb_store import LmdbStore

from .workflow import work

SCRIPT = str(Path(__file__).with_name("workflow.py"))


def command(cache: Path, n: int, start: int = 0, executor: str = "processes", size: int = 0,
            spin: float = 0.0) -> List[str]:
    return [sys.executable, SCRIPT, str(cache), str(n), "--start", str(start),
            "--executor", executor, "--size", str(size), "--spin", str(spin)]


def start(cache: Path, n: int, runlog: Optional[Path] = None, preexec_fn=None, **options
          ) -> subprocess.Popen:
    env = {**os.environ, "RUNLOG": str(runlog or "")}
    return subprocess.Popen(command(cache, n, **options), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn,
                            start_new_session=True)


def finish(proc: subprocess.Popen, timeout: float = 300) -> Dict:
    """Wait for a run to succeed and return what it printed."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def run(cache: Path, n: int, runlog: Optional[Path] = None, **options) -> Dict:
    return finish(start(cache, n, runlog, **options))


def ran(runlog: Path) -> List[int]:
    """The `work` jobs that started, in order (a job killed midway still counts)."""
    if not runlog.exists():
        return []
    return [int(line) for line in runlog.read_text().split()]


def committed(cache: Path, n: int, start: int = 0, size: int = 0, spin: float = 0.0) -> Set[int]:
    """The `work` jobs whose results the store holds. Opening it is itself a check."""
    store = LmdbStore(str(cache), create=False)
    try:
        keys = [eval_digest(work.digest, (i, size, spin), {}) for i in range(start, start + n)]
        return {start + k for k, found in enumerate(store.lookup(keys)) if found is not None}
    finally:
        store.close()


def finish_output(out: str) -> Dict:
    return json.loads(out.strip().splitlines()[-1])
