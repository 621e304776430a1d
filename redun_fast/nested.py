"""Find and replace expressions inside nested values, by the walkthrough's evaluation rules.

Walked: list, tuple, namedtuple, dict (keys and values), set, frozenset, dataclass instances.
Anything else, QuotedExpression included, is opaque.
"""
import copy
import dataclasses
from typing import Any, Callable, List

from redun_fast.expression import Expression

_OPAQUE = (int, float, str, bytes, bool, type(None))


def _children(value: Any):
    """The directly nested items of a container value, or None if it is not walked."""
    cls = type(value)
    if cls is list or cls is tuple or cls is set or cls is frozenset:
        return value
    if cls is dict:
        return [item for pair in value.items() for item in pair]
    if isinstance(value, tuple) and hasattr(cls, "_fields"):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, field.name) for field in dataclasses.fields(value)]
    return None


def find_expressions(value: Any, found: List[Expression]) -> List[Expression]:
    """Append to `found` the outermost expressions in `value`, in order; returns `found`."""
    if isinstance(value, _OPAQUE):
        return found
    if isinstance(value, Expression):
        found.append(value)
        return found
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Expression):
            found.append(item)
            continue
        if isinstance(item, _OPAQUE):
            continue
        children = _children(item)
        if children:
            stack.extend(reversed(list(children)))
    return found


def substitute(value: Any, lookup: Callable[[Expression], Any]) -> Any:
    """`value` with each outermost expression replaced by `lookup(expression)`.

    Containers are copied only where something inside them was replaced, so a value without
    expressions comes back as the same object.
    """
    if isinstance(value, Expression):
        return lookup(value)
    if isinstance(value, _OPAQUE):
        return value
    cls = type(value)
    if cls is dict:
        items = [(substitute(k, lookup), substitute(v, lookup)) for k, v in value.items()]
        if all(new[0] is k and new[1] is v for new, (k, v) in zip(items, value.items())):
            return value
        return dict(items)
    children = _children(value)
    if children is None:
        return value
    children = list(children)
    new_children = [substitute(item, lookup) for item in children]
    if all(new is old for new, old in zip(new_children, children)):
        return value
    if cls is list or cls is tuple or cls is set or cls is frozenset:
        return cls(new_children)
    if isinstance(value, tuple):  # namedtuple
        return cls(*new_children)
    new = copy.copy(value)  # dataclass; object.__setattr__ also works when it is frozen
    for field, item in zip(dataclasses.fields(value), new_children):
        object.__setattr__(new, field.name, item)
    return new
