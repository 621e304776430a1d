"""Nodes of the expression graph one run reduces, one class per kind of expression.

A node waits for a template (a value with expressions inside): `waiting` counts the pending
child nodes; when it reaches zero the reduction calls `ready()`. A node ends with
`reduction.finish(node, value)` or `reduction.fail(node, error)`, which tells its parents.
"""
from typing import Any, List, Optional

from redun_fast.expression import LAZY_OPERATIONS, SchedulerExpression, SimpleExpression

PENDING, DONE, FAILED = 0, 1, 2
_SCALARS = frozenset([int, float, str, bool, bytes, type(None)])


class Node:
    __slots__ = ("parents", "waiting", "state", "value", "template", "concrete")

    def __init__(self) -> None:
        self.parents: Optional[List["Node"]] = []
        self.waiting = 0
        self.state = PENDING
        self.value: Any = None
        self.template: Any = None
        self.concrete = True  # the template holds no expressions: it is its own value

    def start(self, reduction) -> None:
        """Called once, after the node enters the graph."""
        raise NotImplementedError

    def ready(self, reduction) -> None:
        """Called when every child the node waited for is done."""
        reduction.finish(self, reduction.resolved(self))

    def child_failed(self, reduction, error: BaseException) -> None:
        reduction.fail(self, error)


class Job(Node):
    """One call of a task with concrete arguments: the unit that is cached and executed.

    Its template is the task's raw result, which may hold more expressions to reduce.
    """

    __slots__ = ("id", "task", "args", "kwargs", "eval_hash", "status", "started")

    def __init__(self, job_id: int, task: Any, args: tuple, kwargs: dict, eval_hash: bytes) -> None:
        Node.__init__(self)
        self.id = job_id  # shown as 16 hex digits; the logs show the first 8
        self.task = task
        self.args = args
        self.kwargs = kwargs
        self.eval_hash = eval_hash
        self.status: Optional[int] = None  # a report.STATUSES index once dispatched
        self.started = 0.0


class TaskNode(Node):
    """A TaskExpression: waits for its arguments, then for the job of that call."""

    __slots__ = ("expr", "job")

    def __init__(self, expr: Any) -> None:
        Node.__init__(self)
        self.expr = expr
        self.job: Optional[Job] = None

    def start(self, reduction) -> None:
        expr = self.expr
        if not expr.kwargs and all(type(arg) in _SCALARS for arg in expr.args):
            # The common leaf call, f(1, "a"): nothing to wait for.
            self.template = (expr.args, expr.kwargs)
            return self.ready(reduction)
        reduction.wait_for(self, (expr.args, expr.kwargs))

    def ready(self, reduction) -> None:
        if self.job is None:
            args, kwargs = reduction.resolved(self)
            reduction.request_job(self, args, kwargs)
        else:
            reduction.finish(self, self.job.value)


class SimpleNode(Node):
    """A SimpleExpression (getitem, getattr, call, operators): computed in the scheduler."""

    __slots__ = ("expr", "applied")

    def __init__(self, expr: SimpleExpression) -> None:
        Node.__init__(self)
        self.expr = expr
        self.applied = False

    def start(self, reduction) -> None:
        reduction.wait_for(self, (self.expr.args, self.expr.kwargs))

    def ready(self, reduction) -> None:
        if self.applied:
            return Node.ready(self, reduction)
        args, kwargs = reduction.resolved(self)
        self.applied = True
        try:
            result = LAZY_OPERATIONS[self.expr.func_name](*args, **kwargs)
        except Exception as error:
            return reduction.fail(self, error)
        # The result may be an expression itself, e.g. the call of a task.
        reduction.wait_for(self, result)


class CondNode(Node):
    """`cond(pred, then, [pred2, then2, ...] [otherwise])`: evaluates only what it needs."""

    __slots__ = ("expr", "index", "branch_chosen")

    def __init__(self, expr: SchedulerExpression) -> None:
        Node.__init__(self)
        self.expr = expr
        self.index = 0
        self.branch_chosen = False

    def start(self, reduction) -> None:
        reduction.wait_for(self, self.expr.args[0])

    def ready(self, reduction) -> None:
        if self.branch_chosen:
            return Node.ready(self, reduction)
        clauses = self.expr.args
        if reduction.resolved(self):
            branch = clauses[self.index + 1]
        elif len(clauses) - self.index == 3:
            branch = clauses[self.index + 2]
        elif len(clauses) - self.index == 2:
            branch = None
        else:
            self.index += 2
            return reduction.wait_for(self, clauses[self.index])
        self.branch_chosen = True
        reduction.wait_for(self, branch)


class CatchNode(Node):
    """`catch(expr, ErrorClass, recover, ...)`: on a matching error, evaluates `recover(error)`."""

    __slots__ = ("expr", "recovering", "children")

    def __init__(self, expr: SchedulerExpression) -> None:
        Node.__init__(self)
        self.expr = expr
        self.recovering = False
        self.children: List[Node] = []

    def start(self, reduction) -> None:
        self.children = reduction.wait_for(self, self.expr.args[0])

    def child_failed(self, reduction, error: BaseException) -> None:
        pairs = self.expr.args[1:]
        if not self.recovering:
            for error_class, recover in zip(pairs[::2], pairs[1::2]):
                if isinstance(error, error_class):
                    self.recovering = True
                    # Stop listening to the failed expression's other parts.
                    for child in self.children:
                        if child.parents is not None and self in child.parents:
                            child.parents.remove(self)
                    self.waiting = 0
                    reduction.wait_for(self, recover(error))
                    return
        reduction.fail(self, error)


def make_node(expr: Any) -> Node:
    if isinstance(expr, SchedulerExpression):
        node_class = {"redun.cond": CondNode, "redun.catch": CatchNode}.get(expr.task.fullname)
        if node_class is None:
            raise TypeError(f"unknown scheduler task {expr.task.fullname}")
        return node_class(expr)
    if isinstance(expr, SimpleExpression):
        return SimpleNode(expr)
    return TaskNode(expr)
