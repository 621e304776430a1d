"""The Slurm executor, in one of two modes chosen when it is made:

- "workers" (the default, workers.py): long-lived pilot workers, submitted as array elements
  per resource group, connect back to the scheduler and pull batches of jobs, so a new wave of
  jobs reaches a running worker in a millisecond;
- "arrays" (arrays.py): each wave of ready jobs becomes sbatch arrays whose elements run a
  chunk of jobs each and write a result file, for sites where compute nodes may not connect
  to the login node.

`SlurmExecutor(mode=...)` makes the mode's class (a subclass), as `pathlib.Path` makes a
`PosixPath`; both take every argument, each reading its own.
"""
import os
from typing import Any, Dict, Optional

from redun_fast.errors import TaskOptionError
from redun_fast.executors.base import Executor
from redun_fast.executors.slurm.options import SLURM_OPTIONS, requested_resources, sbatch_flags
from redun_fast.options import unknown_options_message

MODES = ("workers", "arrays")


class SlurmExecutor(Executor):
    """Runs jobs on a Slurm cluster.

    Both modes:
      mode: "workers" or "arrays" (see the module docstring and the README).
      staging_dir: shared folder for what travels through the filesystem (default: `slurm/`
        in the scheduler's cache folder); yours alone (0700), unless `shared` (README:
        Security).
      poll_interval: seconds between two `squeue` calls (one for all of the run's arrays).
      options: default resources for every task (partition, account, time, ...).
    Workers mode:
      max_workers: workers at most per resource group (default 16). submit_interval: at most
        one sbatch per group per this many seconds (default 10; the first is at once).
      idle_timeout: seconds a worker waits for work before it leaves (default 60).
      worker_time: the --time of workers (default: the task's `time`, else the partition's);
        a job whose `time` does not fit in what is left of a worker is not started there.
      address: the host name or address compute nodes reach the scheduler at (default: this
        host's name); port: its port (default 0: the OS picks one).
      heartbeat: seconds between pings each way; a side silent for `heartbeat_timeout`
        (default 30) is gone. max_crashes: workers a job may kill before it fails (3).
      batch_seconds: about how much work one message carries, as in the process pool.
    Arrays mode:
      jobs_per_element: jobs packed in one element (default: spread a group over up to
        `max_elements` elements). max_array_size: never more elements in one array.
      parallelism: the `%N` of --array. submit_delay: seconds to gather submissions.
      retries: default resubmissions of jobs whose element failed (a task's own exception is
        never retried).
    """

    kind = "slurm"

    def __new__(cls, *args: Any, **kwargs: Any) -> "SlurmExecutor":
        if cls is SlurmExecutor:
            mode = kwargs.get("mode", "workers")
            if mode == "workers":
                from redun_fast.executors.slurm.workers import WorkerSlurmExecutor as cls
            elif mode == "arrays":
                from redun_fast.executors.slurm.arrays import ArraySlurmExecutor as cls
            else:
                raise ValueError(f"mode={mode!r} is not a Slurm executor mode: use \"workers\" "
                                 "(pilot workers that connect back to the scheduler) or "
                                 "\"arrays\" (no connections from compute nodes: each wave of "
                                 "jobs is an sbatch array)")
        return super().__new__(cls)

    def __init__(self, staging_dir: Optional[str] = None, mode: str = "workers",
                 poll_interval: float = 1.0, shared: bool = False,
                 max_workers: int = 16, submit_interval: float = 10.0,
                 idle_timeout: float = 60.0, worker_time: Any = None,
                 address: Optional[str] = None, port: int = 0, heartbeat: float = 5.0,
                 heartbeat_timeout: float = 30.0, max_crashes: int = 3,
                 batch_seconds: float = 0.002,
                 jobs_per_element: Optional[int] = None, max_elements: int = 200,
                 max_array_size: int = 1000, parallelism: Optional[int] = None,
                 submit_delay: float = 0.2, retries: int = 0, **options: Any) -> None:
        unknown = sorted(set(options) - set(SLURM_OPTIONS))
        if unknown:
            raise TaskOptionError(unknown_options_message(unknown))
        sbatch_flags(options)  # a bad default is an error now, not at the first job
        sbatch_flags({"time": worker_time})
        for name, value in (("max_workers", max_workers), ("max_crashes", max_crashes)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if heartbeat_timeout <= heartbeat:
            raise ValueError(f"heartbeat_timeout={heartbeat_timeout!r} must be longer than "
                             f"heartbeat={heartbeat!r}, or every worker would look dead")
        self.mode = mode
        self.staging_dir = os.path.abspath(staging_dir) if staging_dir else None
        self.poll_interval = poll_interval
        self.shared = shared
        self.options = options
        self.max_workers = max_workers
        self.submit_interval = submit_interval
        self.idle_timeout = idle_timeout
        self.worker_time = worker_time
        self.address = address
        self.port = port
        self.heartbeat = heartbeat
        self.heartbeat_timeout = heartbeat_timeout
        self.max_crashes = max_crashes
        self.batch_seconds = batch_seconds
        self.jobs_per_element = jobs_per_element
        self.max_elements = max(1, min(max_elements, max_array_size))
        self.max_array_size = max_array_size
        self.parallelism = parallelism
        self.submit_delay = submit_delay
        self.retries = retries
        self.sbatch_calls = 0  # for tests and benchmarks
        self.elements_submitted = 0
        self.array_ids: list = []  # Slurm job ids of the arrays submitted
        self._requested: Dict[str, Dict[str, Any]] = {}  # task full name -> resources

    def note_requested(self, task: Any, options: Dict[str, Any]) -> None:
        """Keep what a task's jobs ask for (its options over the executor's), for reports."""
        if task.fullname not in self._requested:
            self._requested[task.fullname] = requested_resources(options)

    def requested(self) -> Dict[str, Dict[str, Any]]:
        return dict(self._requested)

    def use_folder(self, folder: str) -> None:
        if self.staging_dir is None:
            self.staging_dir = os.path.abspath(os.path.join(folder, "slurm"))
