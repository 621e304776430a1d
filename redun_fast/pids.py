"""Whether a process that owns something of ours (a spill file, a staging folder, a run) is
still running on this host, and this host's name, which owners record beside their pid."""
import socket

HOST = socket.gethostname()


def alive(pid: int) -> bool:
    """True while process `pid` runs here; a zombie (exited, not yet reaped) is gone."""
    import psutil  # only when asked: it is not needed to run a workflow

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:  # another user's process: it exists
        return True
