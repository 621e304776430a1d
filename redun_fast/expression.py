"""Lazy expressions: what calling a task, indexing, attribute access and operators build.

The expression classes are compiled (csrc/_expression.pyx); this module adds quoting and the
eager function behind each lazy operation. Nothing here runs or caches; the scheduler
reduces expressions to values.
"""
import operator
from typing import Any, Callable, Dict

from redun_fast._core import value_digest
from redun_fast._expression import (  # noqa: F401  (this module is where they are imported from)
    Expression,
    SchedulerExpression,
    SimpleExpression,
    TaskExpression,
)


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


# name -> the eager function a SimpleExpression of that name applies (the operator methods
# of Expression build them: `e + 1` is SimpleExpression("add", (e, 1))).
LAZY_OPERATIONS: Dict[str, Callable] = {
    "getitem": operator.getitem,
    "getattr": getattr,
    "call": lambda func, args=(), kwargs={}: func(*args, **kwargs),
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "add": operator.add,
    "radd": lambda self, other: other + self,
    "sub": operator.sub,
    "rsub": lambda self, other: other - self,
    "mul": operator.mul,
    "rmul": lambda self, other: other * self,
    "div": operator.truediv,
    "rdiv": lambda self, other: other / self,
    "and": lambda self, other: self and other,
    "rand": lambda self, other: other and self,
    "or": lambda self, other: self or other,
    "ror": lambda self, other: other or self,
}


class ValueExpression(SchedulerExpression):
    """A concrete value lifted into an expression (redun's ValueExpression): it evaluates to
    the value."""

    __slots__ = ()

    def __init__(self, value: Any) -> None:
        if isinstance(value, Expression):
            raise TypeError("ValueExpression lifts a concrete value; this is an expression already")
        from redun_fast.builtins import value_task

        super().__init__(value_task, (value,), {})

    @property
    def value(self) -> Any:
        return self.args[0]

    def __repr__(self) -> str:
        return f"ValueExpression({self.args[0]!r})"

    def __reduce__(self):
        return (ValueExpression, (self.args[0],))
