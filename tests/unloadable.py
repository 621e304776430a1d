"""A task whose result pickles in a worker but cannot be unpickled in the scheduler: shared by
the pool's and the Slurm executor's tests (workers import it by this module's name)."""
from redun_fast import task

redun_namespace = "unloadable"


def _refuse_to_load():
    raise RuntimeError("this value cannot be loaded here")


class LoadsNowhere:
    """Pickles fine in the worker; unpickling it (in the scheduler) raises."""

    def __reduce__(self):
        return (_refuse_to_load, ())


@task
def maybe_unloadable(x, bad):
    return LoadsNowhere() if x == bad else x
