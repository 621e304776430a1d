"""What travels between the scheduler and a worker process, and the one way a batch runs there.

Shared by every executor whose workers are other processes: the pool's workers, Slurm's array
elements, and (to come) pilot workers reached over a socket.

To a worker: `definitions`, [(task_hash, fullname, how, what, shipped)] for the tasks it has
not been sent as they are now (shipping.task_definition), and jobs, [(key, task_hash, args,
kwargs)]. In the worker: `load_definitions`, then `run_batch`, whose results, [(key, ok,
value or error, traceback text)], `encode_results` pickles as ("results", batch id, usage,
payload), usage being what the batch cost (usage.Usage: time, CPU, peak memory, where) and the
payload the pickled results, so that the scheduler always reads which
batch came back even when a value inside cannot be unpickled there (`load_results` raises; the
executor then finds the job by running each alone). What cannot be pickled in the worker is
replaced by an error that says so. Back in the scheduler: `to_results` gives the (job, ok,
value) Results executors deliver, a task's error with the worker's traceback as its cause,
each job holding its batch's usage (`job.usage`, kept in its record).
"""
import pickle
import traceback
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from redun_fast.errors import RemoteError, SerializationError
from redun_fast.executors.shipping import dumps_result, load_definition, ship, task_definition
from redun_fast.executors.usage import Usage, meter


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker; shown as the error's cause."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


# The scheduler's side.

def definitions(tasks: Iterable[Any], known: Optional[Dict[str, Any]] = None) -> List[tuple]:
    """What a worker needs to run `tasks`: a (task hash, full name, how, what, shipped) each,
    except those it holds as they would be shipped now (`known`: task hash -> shipped, what
    the worker was sent last): a task is sent again when a global it reads changed, and
    again when the global changes back, since a worker holds one function per task hash."""
    known = known or {}
    wanted = []
    for task in {task.hash: task for task in tasks}.values():
        how, what, shipped = task_definition(task)
        if task.hash not in known or known[task.hash] != shipped:
            wanted.append((task.hash, task.fullname, how, what, shipped))
    return wanted


def shipped(definition: tuple) -> tuple:
    """(task hash, shipped): what a worker that received `definition` holds for that task
    hash from now on (see `definitions`)."""
    return (definition[0], definition[4])


def job_entries(jobs: Sequence[Any], keys: Iterable[Any]) -> List[tuple]:
    """The jobs as a worker gets them, each under its key (its place, or its eval hash)."""
    return [(key, job.task.hash, job.args, job.kwargs) for key, job in zip(keys, jobs)]


def batch_message(batch_id: int, definitions: List[tuple], jobs: List[tuple]) -> bytes:
    """A batch for a pool worker; raises if something in it cannot be pickled. The jobs are
    pickled inside the message, so that a worker that cannot unpickle an argument still knows
    which batch to refuse (`refusal`)."""
    return pickle.dumps(("run", batch_id, ship(definitions), ship(jobs)), protocol=5)


def refusal(batch_id: int, error: Exception) -> bytes:
    """A worker's answer to a batch whose jobs it cannot unpickle."""
    return pickle.dumps(("refused", batch_id, f"{type(error).__name__}: {error}"), protocol=5)


def unreadable_arguments(task_name: str, worker: str, error_text: str) -> TypeError:
    """The error of a job whose arguments a worker cannot unpickle."""
    return TypeError(f"the arguments of {task_name} cannot be unpickled in {worker} "
                     f"({error_text}); pass plain data, or classes the worker can import")


def to_results(results: Iterable[tuple], job_of: Callable[[Any], Optional[Any]],
               usage: Any = None) -> List[tuple]:
    """The Results (job, ok, value) of a worker's results, each job given the batch's `usage`;
    keys that `job_of` does not know are skipped (an adopted Slurm element may have computed
    more than this run asks for)."""
    if not isinstance(usage, Usage):  # (a result file written by an older version)
        usage = None
    delivered = []
    for key, ok, value, text in results:
        job = job_of(key)
        if job is None:
            continue
        job.usage = usage
        if not ok and text:
            value.__cause__ = RemoteTraceback(text)
        delivered.append((job, ok, value))
    return delivered


# The worker's side.

def load_definitions(definitions: List[tuple], functions: Dict[str, Callable],
                     names: Dict[str, str]) -> None:
    """Add the functions of `definitions` to `functions` (by task hash), and their names; a
    task that cannot be loaded fails each of its jobs with an ImportError that says why."""
    for task_hash, fullname, how, what, _ in definitions:
        names[task_hash] = fullname
        try:
            functions[task_hash] = load_definition(task_hash, fullname, how, what)
        except Exception as error:
            functions[task_hash] = _raiser(error, fullname)


def run_batch(functions: Dict[str, Callable], jobs: List[tuple]) -> List[tuple]:
    """Run a batch of jobs in this process: their results, in order."""
    results = []
    for key, task_hash, args, kwargs in jobs:
        try:
            results.append((key, True, functions[task_hash](*args, **kwargs), None))
        except Exception as error:
            results.append((key, False, error, traceback.format_exc()))
    return results


def run_and_encode(batch_id: Any, functions: Dict[str, Callable], names: Dict[str, str],
                   jobs: List[tuple]) -> bytes:
    """Run a batch and pickle its results message (see the module docstring)."""
    batch_meter = meter()
    started = batch_meter.start()
    results = run_batch(functions, jobs)
    usage = batch_meter.stop(started, len(jobs))
    return encode_results(batch_id, usage, results,
                          {key: names[task_hash] for key, task_hash, _, _ in jobs})


def encode_results(batch_id: Any, usage: Usage, results: List[tuple],
                   names: Dict[Any, str]) -> bytes:
    try:
        payload = dumps_result(results)
    except Exception:
        payload = dumps_result(_picklable(results, names))
    return pickle.dumps(("results", batch_id, usage, payload), protocol=5)


def _picklable(results: List[tuple], names: Dict[Any, str]) -> List[tuple]:
    """The results with each value that cannot be pickled replaced by an error saying so."""
    safe = []
    for key, ok, value, text in results:
        try:
            dumps_result(value)
            safe.append((key, ok, value, text))
        except Exception as error:
            kind = f"{type(value).__module__}.{type(value).__qualname__}"
            if ok:
                problem = SerializationError(
                    f"result of {names[key]} is not picklable: {kind} ({error}); return plain data")
            else:
                problem = RemoteError(f"{kind}: {value}")
            safe.append((key, False, problem, text))
    return safe


def load_results(payload: bytes) -> List[tuple]:
    """The results of a results message's payload; raises what unpickling raised."""
    return pickle.loads(payload)


def unreadable_result(task_name: str, error: Exception) -> SerializationError:
    """The error of a job whose result the scheduler cannot unpickle."""
    failure = SerializationError(
        f"the result of {task_name} cannot be unpickled in the scheduler "
        f"({type(error).__name__}: {error}); return plain data, or a class the scheduler "
        "can import")
    failure.__cause__ = error
    return failure


def _raiser(error: Exception, fullname: str) -> Callable:
    message = (f"cannot load task {fullname} in the worker process: "
               f"{type(error).__name__}: {error}")

    def fail(*args: Any, **kwargs: Any) -> None:
        raise ImportError(message)

    return fail
