# cython: language_level=3
"""Lazy expressions: what calling a task, indexing, attribute access and operators build.

Compiled, because a fan-out builds a million of them and the scheduler reads their fields for
each one; redun_fast.expression is the module to import them from. Nothing here runs or
caches; the scheduler reduces expressions to values. Reprs match the redun scheduler
walkthrough, e.g. `TaskExpression('redun_notebook.add', (1, 2), {})`.
"""

cimport cython


@cython.no_gc
cdef class Expression:
    """Base class of lazy values. Operators, `[]`, `.attr` and calls build SimpleExpressions.

    Not tracked by Python's cycle collector: a program that builds a million calls would
    otherwise have its own collections walk all of them, which made building them 3x slower.
    What an expression refers to is freed as usual; only a cycle through an expression is
    never collected, and an expression among its own arguments is an error anyway.
    """

    def __redun_hash__(self) -> bytes:
        """The 16-byte hash of this expression (for a task call: the eval hash of the call)."""
        if self._hash is None:
            # Innermost first, without deep recursion: chains can be thousands deep.
            from redun_fast._nested import hash_tree  # compiled; imports this module

            hash_tree(self)
        return self._hash

    def _hash_content(self) -> tuple:
        raise NotImplementedError

    # Expressions sit in sets and dicts by identity; `==` is lazy, so the hash cannot follow it.
    def __hash__(self):
        return object.__hash__(self)

    def __bool__(self):
        raise TypeError(
            "Expressions cannot be coerced to bool. Its value is known only once the scheduler "
            "has run it: branch inside a task, or use cond(predicate, then, otherwise)")

    def __iter__(self):
        raise TypeError("Expressions of unknown length cannot be iterated.")

    def __call__(self, *args, **kwargs):
        return SimpleExpression("call", (self, args, kwargs))

    def __getitem__(self, key):
        if isinstance(key, slice):
            # Like redun: a slice of a lazy sequence is a list of lazy items.
            return [self[i] for i in range(key.start or 0, key.stop, key.step or 1)]
        return SimpleExpression("getitem", (self, key))

    def __getattr__(self, str name):
        # Only reached for names the object does not have. Protocol probes (pickle, copy,
        # IPython's _repr_*_) must keep failing, or every library would see a lazy attribute.
        if name.startswith("__") or name.startswith("_repr_") or name.startswith("_ipython"):
            raise AttributeError(name)
        return SimpleExpression("getattr", (self, name))

    # Operators are lazy: each builds SimpleExpression(name, (self, other)), evaluated by
    # expression.LAZY_OPERATIONS[name]. Reflected forms (1 + e) have names of their own.
    def __eq__(self, other):
        return SimpleExpression("eq", (self, other))

    def __ne__(self, other):
        return SimpleExpression("ne", (self, other))

    def __lt__(self, other):
        return SimpleExpression("lt", (self, other))

    def __le__(self, other):
        return SimpleExpression("le", (self, other))

    def __gt__(self, other):
        return SimpleExpression("gt", (self, other))

    def __ge__(self, other):
        return SimpleExpression("ge", (self, other))

    def __add__(self, other):
        return SimpleExpression("add", (self, other))

    def __radd__(self, other):
        return SimpleExpression("radd", (self, other))

    def __sub__(self, other):
        return SimpleExpression("sub", (self, other))

    def __rsub__(self, other):
        return SimpleExpression("rsub", (self, other))

    def __mul__(self, other):
        return SimpleExpression("mul", (self, other))

    def __rmul__(self, other):
        return SimpleExpression("rmul", (self, other))

    def __truediv__(self, other):
        return SimpleExpression("div", (self, other))

    def __rtruediv__(self, other):
        return SimpleExpression("rdiv", (self, other))

    def __and__(self, other):
        return SimpleExpression("and", (self, other))

    def __rand__(self, other):
        return SimpleExpression("rand", (self, other))

    def __or__(self, other):
        return SimpleExpression("or", (self, other))

    def __ror__(self, other):
        return SimpleExpression("ror", (self, other))


@cython.no_gc
cdef class TaskExpression(Expression):
    """A call of a task with arguments, not yet evaluated."""

    def __init__(self, task, tuple args, dict kwargs):
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
        return (type(self), (self.task, self.args, self.kwargs))


@cython.no_gc
cdef class SchedulerExpression(TaskExpression):
    """A call of a built-in the scheduler evaluates itself, with lazy arguments (cond, catch)."""


@cython.no_gc
cdef class SimpleExpression(Expression):
    """A lazy operation: 'getitem', 'getattr', 'call' or an operator such as 'add'."""

    def __init__(self, str func_name, tuple args=(), dict kwargs=None):
        self.func_name = func_name
        self.args = args
        self.kwargs = {} if kwargs is None else kwargs

    def _hash_content(self) -> tuple:
        return ("SimpleExpression", self.func_name, self.args, self.kwargs)

    def __repr__(self) -> str:
        return f"SimpleExpression({self.func_name!r}, {self.args!r}, {self.kwargs!r})"

    def __reduce__(self):
        return (SimpleExpression, (self.func_name, self.args, self.kwargs))
