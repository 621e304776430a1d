"""A pilot worker: `python -m redun_fast.executors.slurm.pilot FOLDER CPUS_PER_JOB`, one
element of an sbatch array that the workers mode (workers.py) submits for a resource group.

It reads its run's secret (FOLDER/key, 0600) and the scheduler's address (FOLDER/config.json),
connects (network.py: each side proves it holds the secret before anything is unpickled),
says which Slurm job it is, then runs the worker loop (worker_loop.py) until the scheduler
says stop, no batch comes for `idle_timeout` seconds, or Slurm warns that its time is nearly
up (SIGUSR1): then it finishes the batch it is running and says it is leaving, so the
scheduler gives the batches it had not started to other workers. It pings the scheduler every
`heartbeat` seconds and leaves when the scheduler is silent for `heartbeat_timeout` (killed,
or its node cut off). When its allocation has room for several jobs of its group (CPUS_PER_JOB
each), it serves that many connections, one process each. It never opens the cache.
"""
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List

from redun_fast.errors import SecurityError
from redun_fast.executors.network import connect
from redun_fast.executors.worker_loop import PING, WorkerLoop
from redun_fast.signing import read_key
from redun_fast.task import require_exact_tasks

STARTED = time.time()  # about when Slurm started us: our allocation's clock


def element_id() -> str:
    """This Slurm array element, as squeue names it: "123_4"."""
    return f"{os.environ.get('SLURM_ARRAY_JOB_ID')}_{os.environ.get('SLURM_ARRAY_TASK_ID')}"


def slots(cpus_per_job: int) -> int:
    """How many jobs of CPUS_PER_JOB cpus fit in this allocation at once."""
    allocated = int(os.environ.get("SLURM_CPUS_ON_NODE", "1"))
    return max(1, allocated // max(1, cpus_per_job))


def serve(folder: str, slot: int) -> int:
    """One connection to the scheduler, served until it ends; the exit code."""
    require_exact_tasks()  # tasks passed as values: the code the scheduler hashed, or an error
    with open(os.path.join(folder, "config.json")) as config_file:
        config: Dict[str, Any] = json.load(config_file)
    sys.path[:] = config["sys_path"]  # import user modules as the scheduler does
    address = tuple(config["address"])
    element = element_id()
    key = read_key(os.path.join(folder, "key"))
    try:
        conn = connect(address, key,
                       send_timeout=config["heartbeat_timeout"],
                       receive_timeout=config["heartbeat_timeout"])
    except (OSError, SecurityError) as error:
        print(f"redun_fast pilot {element}: cannot reach its scheduler at "
              f"{address[0]}:{address[1]}: {type(error).__name__}: {error}", file=sys.stderr)
        return 3
    loop = WorkerLoop(conn, f"from-{element}-{slot}-", spill_dir=folder, key=key)
    signal.signal(signal.SIGUSR1, lambda signum, frame: loop.drain())
    loop.send(pickle.dumps(("hello", element, socket.gethostname(), os.getpid(), slot,
                            STARTED, os.environ.get("SLURMD_NODENAME"))))
    threading.Thread(target=_ping, args=(loop, config["heartbeat"]), daemon=True).start()
    why = loop.serve(idle_timeout=config["idle_timeout"])
    if why != "stop":
        loop.send(pickle.dumps(("leaving", why)))
    conn.close()
    return 0


def _ping(loop: WorkerLoop, every: float) -> None:
    while True:
        time.sleep(every)
        try:
            loop.send(PING)
        except OSError:
            os._exit(0)  # the scheduler is gone: so is our reason to be


def main(argv: List[str]) -> int:
    folder, cpus_per_job = argv[0], int(argv[1])
    if len(argv) > 2:  # one of several slots, started below
        return serve(folder, int(argv[2]))
    count = slots(cpus_per_job)
    if count == 1:
        return serve(folder, 0)
    command = [sys.executable, "-m", "redun_fast.executors.slurm.pilot", folder, argv[1]]
    children = [subprocess.Popen([*command, str(slot)]) for slot in range(count)]

    def forward(signum: int, frame: Any) -> None:  # Slurm signals us (the batch step) only
        for child in children:
            child.send_signal(signum)

    signal.signal(signal.SIGUSR1, forward)
    signal.signal(signal.SIGTERM, forward)
    return max(child.wait() for child in children)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
