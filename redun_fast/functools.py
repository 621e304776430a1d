"""redun's functional helpers, with redun's names: map_, starmap, flat_map, flatten, seq,
compose, const, delay, force, eval_, zip_, identity, as_task, apply_func.

`map_(task, values)` on a concrete list builds the calls at once (each runs as soon as its
value is ready); on an expression it waits for the list first.
"""
from textwrap import dedent
from typing import Any, Callable, Sequence

from redun_fast.builtins import scheduler_task
from redun_fast.expression import Expression
from redun_fast.task import PartialTask, task

# These tasks only build expressions: the scheduler's own thread runs them.
_builtin = dict(namespace="redun", version="1", executor="inline")


@task(**_builtin)
def identity(x: Any) -> Any:
    return x


@task(**_builtin)
def const(x: Any, _: Any) -> Any:
    """Return `x`, ignoring the second argument (e.g. to sequence on it)."""
    return x


def delay(x: Any) -> PartialTask:
    """A task that returns `x` when called with no arguments (see `force`)."""
    return identity.partial(x)


def force(x: Any) -> Any:
    return x()


@task(**_builtin)
def compose_apply(tasks: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
    rev_tasks = list(reversed(tasks))
    result = rev_tasks[0](*args, **kwargs)
    for next_task in rev_tasks[1:]:
        result = next_task(result)
    return result


def compose(*tasks: Any) -> PartialTask:
    """`compose(f, g)(x)` is `f(g(x))`."""
    return compose_apply.partial(tasks)


@task(**_builtin)
def apply_func(func: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call a plain function as a task."""
    return func(*args, **kwargs)


def as_task(func: Callable) -> PartialTask:
    """A plain function made into a task (its calls are cached like any job)."""
    return apply_func.partial(func)


@task(**_builtin)
def eval_(code: str, *args: Any, **kwargs: Any) -> Any:
    """Evaluate a Python expression; `pos_args` names the positional arguments."""
    pos_args = kwargs.pop("pos_args", [])
    variables = dict(zip(pos_args, args))
    variables.update(kwargs)
    return eval(dedent(code), variables)


@task(**_builtin)
def _map(a_task: Any, values: Sequence[Any]) -> list:
    return [a_task(value) for value in values]


def map_(a_task: Any, values: Any) -> Any:
    """Apply a task to each value, like `map(f, xs)`."""
    if isinstance(values, (list, tuple)) and not isinstance(a_task, Expression):
        return [a_task(value) for value in values]
    return _map(a_task, values)


@task(**_builtin)
def _starmap(a_task: Any, kwargs: Sequence[dict]) -> list:
    return [a_task(**each) for each in kwargs]


def starmap(a_task: Any, kwargs: Any = ()) -> Any:
    """Apply a task to each dict of keyword arguments."""
    if isinstance(kwargs, (list, tuple)) and not isinstance(a_task, Expression) and all(
            type(each) is dict for each in kwargs):
        return [a_task(**each) for each in kwargs]
    return _starmap(a_task, kwargs)  # a lazy list, or lazy rows: a task, so it waits for them


@task(**_builtin)
def flatten(list_of_lists: Sequence[Sequence[Any]]) -> list:
    return [value for values in list_of_lists for value in values]


def flat_map(a_task: Any, values: Any) -> Any:
    """`map_` with a task that returns lists, then `flatten`."""
    return flatten(map_(a_task, values))


@task(**_builtin)
def zip_(*lists: Sequence[Any]) -> list:
    return list(zip(*lists))


@scheduler_task
def seq(exprs: Sequence[Any]) -> list:
    """Evaluate the expressions one after the other; their values, as a list."""
    raise TypeError("seq() is evaluated by the scheduler; call it inside a workflow")


def no_prov(expr: Any) -> Any:
    """redun's no_prov: evaluate `expr` without recording its provenance. redun_fast records no
    provenance graph, so it is `expr` itself."""
    return expr
