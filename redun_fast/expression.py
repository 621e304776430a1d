"""Lazy expressions: what calling a task, indexing, attribute access and operators build.

Nothing here runs or caches; the scheduler reduces expressions to values. Reprs match the
redun scheduler walkthrough, e.g. `TaskExpression('redun_notebook.add', (1, 2), {})`.
"""
import operator
from typing import Any, Callable, Dict

from redun_fast._core import register_hashed_type, value_digest


class Expression:
    """Base class of lazy values. Operators, `[]`, `.attr` and calls build SimpleExpressions."""

    # _node: this expression's node in the run that is reducing it (see _graph.ReductionCore),
    # kept on the expression so that a million-call run needs no id -> node table.
    __slots__ = ("_hash", "_node")

    def __init__(self) -> None:
        self._hash = None
        self._node = None

    def __redun_hash__(self) -> bytes:
        """The 16-byte hash of this expression (for a task call: the eval hash of the call)."""
        if self._hash is None:
            _hash_bottom_up(self)
        return self._hash

    def _hash_content(self) -> tuple:
        raise NotImplementedError

    # Expressions sit in sets and dicts by identity; `==` is lazy, so the hash cannot follow it.
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise TypeError(
            "Expressions cannot be coerced to bool. Its value is known only once the scheduler "
            "has run it: branch inside a task, or use cond(predicate, then, otherwise)")

    def __iter__(self):
        raise TypeError("Expressions of unknown length cannot be iterated.")

    def __call__(self, *args: Any, **kwargs: Any) -> "SimpleExpression":
        return SimpleExpression("call", (self, args, kwargs))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            # Like redun: a slice of a lazy sequence is a list of lazy items.
            return [self[i] for i in range(key.start or 0, key.stop, key.step or 1)]
        return SimpleExpression("getitem", (self, key))

    def __getattr__(self, name: str) -> "SimpleExpression":
        # Only reached for names the object does not have. Protocol probes (pickle, copy,
        # IPython's _repr_*_) must keep failing, or every library would see a lazy attribute.
        if name.startswith("__") or name.startswith("_repr_") or name.startswith("_ipython"):
            raise AttributeError(name)
        return SimpleExpression("getattr", (self, name))


def _hash_bottom_up(root: Expression) -> None:
    """Hash `root` and the expressions inside it, innermost first, without deep recursion.

    A chain like `add(add(add(...), 1), 1)` thousands deep hashes one level at a time.
    """
    from redun_fast._nested import hash_tree  # compiled; imports this module

    hash_tree(root)


class TaskExpression(Expression):
    """A call of a task with arguments, not yet evaluated."""

    __slots__ = ("task", "args", "kwargs")

    def __init__(self, task: Any, args: tuple, kwargs: dict) -> None:
        self._hash = None
        self._node = None
        self.task = task
        self.args = args
        self.kwargs = kwargs

    @property
    def task_name(self) -> str:
        return self.task.fullname

    def __iter__(self):
        # `a, b = pair()` for a task declared with @task(nout=2), as in redun.
        nout = self.task.get_option("nout")
        if nout is None:
            raise TypeError("Expressions of unknown length cannot be iterated; declare "
                            "@task(nout=N) to unpack a task's result")
        return iter([self[i] for i in range(nout)])

    def _hash_content(self) -> tuple:
        # For SchedulerExpressions; a plain call hashes as its eval hash (_nested.hash_tree).
        return ("TaskExpression", self.task.hash, self.args, self.kwargs)

    def __repr__(self) -> str:
        return f"TaskExpression({self.task.fullname!r}, {self.args!r}, {self.kwargs!r})"

    def __reduce__(self):
        return (TaskExpression, (self.task, self.args, self.kwargs))


register_hashed_type(TaskExpression)


class SchedulerExpression(TaskExpression):
    """A call of a built-in the scheduler evaluates itself, with lazy arguments (cond, catch)."""

    __slots__ = ()

    def __reduce__(self):
        return (SchedulerExpression, (self.task, self.args, self.kwargs))


class SimpleExpression(Expression):
    """A lazy operation: 'getitem', 'getattr', 'call' or an operator such as 'add'."""

    __slots__ = ("func_name", "args", "kwargs")

    def __init__(self, func_name: str, args: tuple = (), kwargs: dict = None) -> None:
        self._hash = None
        self._node = None
        self.func_name = func_name
        self.args = args
        self.kwargs = {} if kwargs is None else kwargs

    def _hash_content(self) -> tuple:
        return ("SimpleExpression", self.func_name, self.args, self.kwargs)

    def __repr__(self) -> str:
        return f"SimpleExpression({self.func_name!r}, {self.args!r}, {self.kwargs!r})"

    def __reduce__(self):
        return (SimpleExpression, (self.func_name, self.args, self.kwargs))


class QuotedExpression:
    """An expression wrapped so that the scheduler does not evaluate it (see `root_task`)."""

    __slots__ = ("_expr", "_hash")

    def __init__(self, expr: Any) -> None:
        self._expr = expr
        self._hash = None

    def eval(self) -> Any:
        return self._expr

    def __redun_hash__(self) -> bytes:
        if self._hash is None:
            self._hash = value_digest(("QuotedExpression", self._expr))
        return self._hash

    def __repr__(self) -> str:
        # The walkthrough's logs show redun's default object repr; keep them comparable.
        return f"<redun.expression.QuotedExpression object at {id(self):#x}>"

    def __reduce__(self):
        return (QuotedExpression, (self._expr,))


def quote(expr: Any) -> QuotedExpression:
    """Wrap `expr` so that it is passed to a task unevaluated."""
    return QuotedExpression(expr)


# name -> the eager function a SimpleExpression of that name applies.
LAZY_OPERATIONS: Dict[str, Callable] = {
    "getitem": operator.getitem,
    "getattr": getattr,
    "call": lambda func, args=(), kwargs={}: func(*args, **kwargs),
}


def _lazy_operator(method: str, name: str, func: Callable) -> None:
    def build(self: Expression, other: Any) -> SimpleExpression:
        return SimpleExpression(name, (self, other))

    build.__name__ = method
    setattr(Expression, method, build)
    LAZY_OPERATIONS[name] = func


for _method, _name, _func in [
    ("__eq__", "eq", operator.eq),
    ("__ne__", "ne", operator.ne),
    ("__lt__", "lt", operator.lt),
    ("__le__", "le", operator.le),
    ("__gt__", "gt", operator.gt),
    ("__ge__", "ge", operator.ge),
    ("__add__", "add", operator.add),
    ("__radd__", "radd", lambda self, other: other + self),
    ("__sub__", "sub", operator.sub),
    ("__rsub__", "rsub", lambda self, other: other - self),
    ("__mul__", "mul", operator.mul),
    ("__rmul__", "rmul", lambda self, other: other * self),
    ("__truediv__", "div", operator.truediv),
    ("__rtruediv__", "rdiv", lambda self, other: other / self),
    ("__and__", "and", lambda self, other: self and other),
    ("__rand__", "rand", lambda self, other: other and self),
    ("__or__", "or", lambda self, other: self or other),
    ("__ror__", "ror", lambda self, other: other or self),
]:
    _lazy_operator(_method, _name, _func)
