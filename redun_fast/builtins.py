"""Built-in tasks with redun's names: root_task, throw, and the scheduler-evaluated cond and catch."""
from typing import Any

from redun_fast.expression import QuotedExpression, SchedulerExpression
from redun_fast.task import Task, get_task_registry, task


@task(namespace="redun", version="1")
def root_task(expr: QuotedExpression) -> Any:
    """The root job of a run whose expression is not a plain task call (runs in the scheduler)."""
    return expr.eval()


@task(namespace="redun", version="1")
def throw(error: Exception) -> None:
    """Raise `error` lazily, as a task."""
    raise error


class SchedulerTask(Task):
    """A built-in whose arguments the scheduler evaluates lazily; calls build SchedulerExpressions."""

    def __call__(self, *args: Any, **kwargs: Any) -> SchedulerExpression:
        return SchedulerExpression(self, args, kwargs)


def _scheduler_task(func) -> SchedulerTask:
    built = SchedulerTask(func, namespace="redun", version="1")
    get_task_registry().add(built)
    return built


@_scheduler_task
def cond(cond_expr: Any, then_expr: Any, *rest: Any) -> Any:
    """Lazy if/elif/else: `cond(pred1, then1, pred2, then2, ..., otherwise)`.

    Only the predicates up to the first true one and the chosen branch are evaluated;
    with no `otherwise` and no true predicate the result is None.
    """
    raise TypeError("cond() is evaluated by the scheduler; call it inside a workflow")


@_scheduler_task
def catch(expr: Any, *catch_args: Any) -> Any:
    """Evaluate `expr`; if it raises one of the given classes, evaluate `recover(error)` instead.

    `catch(expr, ZeroDivisionError, recover)` or with several pairs:
    `catch(expr, (KeyError, ValueError), recover1, ZeroDivisionError, recover2)`.
    """
    raise TypeError("catch() is evaluated by the scheduler; call it inside a workflow")
