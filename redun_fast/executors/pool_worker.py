"""A process-pool worker: the worker loop (worker_loop.py) on a pipe to its pool."""
import os
import signal
import sys
from typing import Any, List

from redun_fast.executors.worker_loop import WorkerLoop
from redun_fast.task import require_exact_tasks


def worker_main(conn: Any, sys_path: List[str], spill_prefix: str) -> None:
    """The worker process's entry point; its large messages spill to files named with
    `spill_prefix` (its pool's, see transport.py) and its pid, so that the pool frees them
    if it dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the scheduler stops us on Ctrl-C
    require_exact_tasks()  # tasks passed as values: the code the scheduler hashed, or an error
    sys.path[:] = sys_path  # import user modules as the scheduler does
    WorkerLoop(conn, f"{spill_prefix}{os.getpid()}-").serve()
