"""Built-in tasks with redun's names: root_task and throw, and cond, catch and catch_all, whose
arguments the scheduler evaluates itself (their nodes: csrc/_scheduler_nodes.pyx); apply_tags."""
from typing import Any

from redun_fast.expression import QuotedExpression, SchedulerExpression
from redun_fast.task import Task, get_task_registry, task


@task(namespace="redun", version="1")
def root_task(expr: QuotedExpression) -> Any:
    """The root job of a run whose expression is not a plain task call (runs in the scheduler)."""
    return expr.eval()


root_task.runs_in_scheduler = True


@task(namespace="redun", version="1")
def throw(error: Exception) -> None:
    """Raise `error` lazily, as a task."""
    raise error


class SchedulerTask(Task):
    """A built-in whose arguments the scheduler evaluates lazily; calls build SchedulerExpressions."""

    def __call__(self, *args: Any, **kwargs: Any) -> SchedulerExpression:
        return SchedulerExpression(self, args, kwargs)


def scheduler_task(func) -> SchedulerTask:
    built = SchedulerTask(func, namespace="redun", version="1")
    get_task_registry().add(built)
    return built


@scheduler_task
def cond(cond_expr: Any, then_expr: Any, *rest: Any) -> Any:
    """Lazy if/elif/else: `cond(pred1, then1, pred2, then2, ..., otherwise)`.

    Only the predicates up to the first true one and the chosen branch are evaluated;
    with no `otherwise` and no true predicate the result is None.
    """
    raise TypeError("cond() is evaluated by the scheduler; call it inside a workflow")


@scheduler_task
def catch(expr: Any, *catch_args: Any) -> Any:
    """Evaluate `expr`; if it raises one of the given classes, evaluate `recover(error)` instead.

    `catch(expr, ZeroDivisionError, recover)` or with several pairs:
    `catch(expr, (KeyError, ValueError), recover1, ZeroDivisionError, recover2)`.
    """
    raise TypeError("catch() is evaluated by the scheduler; call it inside a workflow")


@scheduler_task
def value_task(value: Any) -> Any:
    """What a ValueExpression evaluates to: its value (its node: _scheduler_nodes.ValueNode)."""
    raise TypeError("value_task() is evaluated by the scheduler")


@scheduler_task
def catch_all(exprs: Any, error_class: Any = None, recover: Any = None) -> Any:
    """Evaluate every expression in `exprs` (a nested value) to the end; if any raised and all
    their errors are `error_class`es, evaluate `recover(values)`, `values` being `exprs` with
    the errors in place of the expressions that raised them; else re-raise the first error
    that is not (the node: csrc/_scheduler_nodes.pyx)."""
    raise TypeError("catch_all() is evaluated by the scheduler; call it inside a workflow")


@scheduler_task
def apply_tags(value: Any, tags: Any = (), job_tags: Any = (), execution_tags: Any = ()) -> Any:
    """redun's apply_tags: `value` itself, once it and the tags are evaluated; `tags` label the
    value, `job_tags` the job whose result holds this call, `execution_tags` the run (kept in
    the run's record: tags.py)."""
    raise TypeError("apply_tags() is evaluated by the scheduler; return it from a task")