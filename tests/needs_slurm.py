"""For tests on the real local Slurm cluster (slurm/start-local-cluster.sh): skipped when no
cluster answers, unless REDUN_FAST_REQUIRE_SLURM=1 (CI sets it), which makes a missing cluster
a failure."""
import os
import subprocess
import time

import pytest

from redun_fast.executors.slurm import SlurmExecutor


def slurm_cluster_up() -> bool:
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def require_slurm(module_level: bool = False) -> None:
    """Skip without a cluster (the whole module when `module_level`), unless CI demands one."""
    if slurm_cluster_up():
        return
    if os.environ.get("REDUN_FAST_REQUIRE_SLURM") == "1":
        raise RuntimeError("no Slurm cluster answers; start one with slurm/start-local-cluster.sh")
    pytest.skip("no Slurm cluster: start one with slurm/start-local-cluster.sh",
                allow_module_level=module_level)


def require_nodes(count: int) -> None:
    """Skip the module unless the cluster is the multi-node one (start-local-cluster.sh --nodes
    COUNT, whose nodes a test may kill or cut off), unless CI demands it."""
    require_slurm(module_level=True)
    names = subprocess.run(["sinfo", "-h", "-N", "-o", "%N"], capture_output=True,
                           text=True).stdout.split()
    if len(set(names)) >= count and os.path.exists("/run/netns/rf-node2"):
        return
    if os.environ.get("REDUN_FAST_REQUIRE_SLURM") == "1":
        raise RuntimeError(f"the local Slurm cluster has {len(set(names))} node(s), these tests "
                           f"need {count}: start it with slurm/start-local-cluster.sh --nodes "
                           f"{count}")
    pytest.skip(f"needs the {count}-node local cluster: slurm/start-local-cluster.sh --nodes "
                f"{count}", allow_module_level=True)


def workers_executor(tmp_path, **options):
    """A workers-mode executor for tests: quick to submit, poll and notice a silent worker."""
    settings = dict(staging_dir=str(tmp_path / "staging"), address=scheduler_address(),
                    poll_interval=0.3, submit_interval=0.5, max_workers=2, heartbeat=1.0,
                    heartbeat_timeout=5.0)
    return SlurmExecutor(**{**settings, **options})


def wait_until(condition, seconds):
    """Whether `condition()` came true within `seconds` (checked every 0.2 s)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def scontrol(job_id: str) -> str:
    return subprocess.run(["scontrol", "show", "job", job_id], capture_output=True,
                          text=True).stdout


def scheduler_address() -> str:
    """Where jobs on the local cluster reach a scheduler on this machine: 127.0.0.1, or the
    bridge address of a multi-node cluster (start-local-cluster.sh writes it)."""
    state = os.environ.get("REDUN_FAST_SLURM_DIR", "/tmp/redun_fast-slurm")
    try:
        with open(os.path.join(state, "scheduler-address")) as address:
            return address.read().strip()
    except OSError:
        return "127.0.0.1"
