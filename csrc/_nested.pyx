# cython: language_level=3
"""Find and replace expressions inside nested values, by the walkthrough's evaluation rules.

Walked: list, tuple, namedtuple, dict (keys and values), set, frozenset, dataclass instances.
Anything else, QuotedExpression included, is opaque. This runs for every job's arguments and
result, so it is compiled; the rules are the same as redun's.
"""
import dataclasses

from redun_fast._core cimport MAX_DEPTH
from redun_fast._core import TOO_DEEP, eval_digest, value_digest
from redun_fast.errors import ExpressionCycleError
from redun_fast._expression cimport Expression, TaskExpression




cdef object _fields = dataclasses.fields


cdef list _dataclass_items(object value):
    # What dataclasses.is_dataclass asks, without its call: this runs for every object in a
    # result (a File, say) that is not a built-in container.
    if hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type):
        return [getattr(value, field.name) for field in _fields(value)]
    return None


cdef int _find(object value, list found, int depth) except -1:
    cdef type cls = type(value)
    if depth > MAX_DEPTH:
        raise RecursionError(TOO_DEEP)
    if cls is list or cls is tuple or cls is set or cls is frozenset:
        for item in value:
            if not scalar(item):
                _find(item, found, depth + 1)
        return 0
    if cls is dict:
        for key, item in (<dict>value).items():
            if not scalar(key):
                _find(key, found, depth + 1)
            if not scalar(item):
                _find(item, found, depth + 1)
        return 0
    if scalar(value):
        return 0
    if isinstance(value, Expression):
        found.append(value)
        return 0
    if isinstance(value, tuple) and hasattr(cls, "_fields"):
        for item in value:
            _find(item, found, depth + 1)
        return 0
    items = _dataclass_items(value)
    if items is not None:
        for item in items:
            _find(item, found, depth + 1)
    return 0


def find_expressions(value, list found):
    """Append to `found` the outermost expressions in `value`, in order; returns `found`."""
    _find(value, found, 0)
    return found


cdef object _replace(object value, object core, int depth):
    cdef type cls = type(value)
    cdef list items, new
    cdef Py_ssize_t i
    cdef bint changed
    if scalar(value):
        return value
    if depth > MAX_DEPTH:
        raise RecursionError(TOO_DEEP)
    if isinstance(value, Expression):
        return core.value_of(value)
    if cls is dict:
        changed = False
        pairs = []
        for key, item in (<dict>value).items():
            new_key = _replace(key, core, depth + 1)
            new_item = _replace(item, core, depth + 1)
            changed = changed or new_key is not key or new_item is not item
            pairs.append((new_key, new_item))
        return dict(pairs) if changed else value
    if cls is list or cls is tuple or cls is set or cls is frozenset:
        items = list(value)
    elif isinstance(value, tuple) and hasattr(cls, "_fields"):
        items = list(value)
    else:
        items = _dataclass_items(value)
        if items is None:
            return value
    new = None
    for i in range(len(items)):
        item = items[i]
        new_item = _replace(item, core, depth + 1)
        if new_item is not item:
            if new is None:
                new = list(items)  # copy only where something inside was replaced
            new[i] = new_item
    if new is None:
        return value
    if cls is list:
        return new
    if cls is tuple or cls is set or cls is frozenset:
        return cls(new)
    if isinstance(value, tuple):  # namedtuple
        return cls(*new)
    import copy
    copied = copy.copy(value)  # dataclass; object.__setattr__ also works when it is frozen
    for field, item in zip(_fields(value), new):
        object.__setattr__(copied, field.name, item)
    return copied


def substitute(value, core):
    """`value` with each outermost expression replaced by its value in the run `core`.

    Containers are copied only where something inside them was replaced, so a value without
    expressions comes back as the same object.
    """
    return _replace(value, core, 0)


cdef dict _NO_KWARGS = {}  # never changed: only read by eval_digest


cdef bytes leaf_call_hash(object expr):
    """If `expr` is a call on plain scalars, `f(1, "a")`, its eval hash (set as its `_hash` if
    it had none), else None. The common leaf of a fan-out: hashed without a trip through the
    stack, and reduced as its job alone (_graph.Graph.leaf_job)."""
    if type(expr) is not TaskExpression:
        return None
    cdef TaskExpression call = <TaskExpression>expr
    if call.kwargs:
        return None
    cdef tuple args = call.args
    for arg in args:
        if not scalar(arg):
            return None
    if call._hash is None:
        call._hash = eval_digest(call.task.digest, args, _NO_KWARGS)
    return call._hash


def hash_tree(root):
    """Set `_hash` on `root` and every expression inside it that has none, innermost first.

    An explicit stack instead of recursion: expression chains can be thousands deep.
    """
    cdef list stack = [root]
    cdef list pending
    cdef set opened = set()  # ids of expressions whose children are on the stack above them
    cdef Expression expr, child
    cdef TaskExpression call
    while stack:
        expr = stack[-1]
        if expr._hash is not None:
            stack.pop()
            continue
        plain_call = type(expr) is TaskExpression
        content = ((<TaskExpression>expr).args, (<TaskExpression>expr).kwargs) if plain_call \
            else expr._hash_content()
        pending = []
        for child in find_expressions(content, []):
            if child._hash is None and leaf_call_hash(child) is None:
                pending.append(child)
        if pending:
            # Everything above an opened expression descends from it: meeting one again is a cycle.
            for child in pending:
                if id(child) in opened:
                    task = getattr(child, "task", None)
                    raise ExpressionCycleError(
                        f"a call of {task.fullname if task else type(child).__name__} is "
                        "among its own arguments (a list, dict or set passed to it was changed "
                        "to hold the call afterwards), so it can never be evaluated; build each "
                        "argument completely before passing it to the task")
            opened.add(id(expr))
            stack.extend(pending)
            continue
        opened.discard(id(expr))
        # A call's hash is the eval hash of that call: the encoder's fast path, it already names
        # the task and its arguments, and the job of the call reuses it (16 bytes, shared).
        if plain_call:
            call = <TaskExpression>expr
            expr._hash = eval_digest(call.task.digest, call.args, call.kwargs)
        else:
            expr._hash = value_digest(content)
        stack.pop()
