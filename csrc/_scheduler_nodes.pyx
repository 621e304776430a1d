# cython: language_level=3
"""The nodes of the expressions the scheduler evaluates itself: lazy operations (`e[0]`,
`e.attr`, `e + 1`, calls) and the built-ins cond, catch, seq, catch_all, get_context and
apply_tags.

Each is a graph node (_graph.pxd) that waits for some expressions, then decides what to wait
for next or what its value is; the graph core asks `node_for(expr)` for them.
"""
cimport cython

from redun_fast._graph cimport Node, Graph, remove_parent
from redun_fast._expression cimport SchedulerExpression, SimpleExpression

from redun_fast.context import OWN_CONTEXT, get_context_value, merge_contexts
from redun_fast.expression import LAZY_OPERATIONS
from redun_fast.tags import check_tags


@cython.no_gc
cdef class ExpressionNode(Node):
    """The node of one expression that the scheduler evaluates itself."""
    cdef public object expr

    def __init__(self, expr):
        self.expr = expr


@cython.no_gc
cdef class SimpleNode(ExpressionNode):
    """A SimpleExpression (getitem, getattr, call, operators): computed in the scheduler, once
    its arguments are values (`apply`)."""
    cdef public bint applied

    cpdef start(self, Graph graph):
        graph.wait_for(self, (self.expr.args, self.expr.kwargs))

    cpdef ready(self, Graph graph):
        if self.applied:
            graph.finish(self, graph.resolved(self))
            return
        args, kwargs = graph.resolved(self)
        self.applied = True
        try:
            result = self.apply(graph, args, kwargs)
        except Exception as error:
            graph.fail(self, error)
            return
        graph.wait_for(self, result)  # the result may be an expression, e.g. a task call

    cpdef object apply(self, Graph graph, tuple args, dict kwargs):
        return LAZY_OPERATIONS[self.expr.func_name](*args, **kwargs)


@cython.no_gc
cdef class CondNode(ExpressionNode):
    """`cond(pred, then, [pred2, then2, ...] [otherwise])`: evaluates only what it needs."""
    cdef public int index
    cdef public bint branch_chosen

    cpdef start(self, Graph graph):
        graph.wait_for(self, self.expr.args[0])

    cpdef ready(self, Graph graph):
        if self.branch_chosen:
            graph.finish(self, graph.resolved(self))
            return
        clauses = self.expr.args
        if graph.resolved(self):
            branch = clauses[self.index + 1]
        elif len(clauses) - self.index == 3:
            branch = clauses[self.index + 2]
        elif len(clauses) - self.index == 2:
            branch = None
        else:
            self.index += 2
            graph.wait_for(self, clauses[self.index])
            return
        self.branch_chosen = True
        graph.wait_for(self, branch)


@cython.no_gc
cdef class CatchNode(ExpressionNode):
    """`catch(expr, ErrorClass, recover, ...)`: on a matching error, evaluates `recover(error)`.

    As redun's, a handled error is cached (graph.caught, redun_fast/caught.py): once
    `recover(error)` succeeded, a later run of the same catch evaluates that call, replayed,
    rather than `expr` again (whose failure is not cached); a changed `expr` or `recover` is
    another catch. If the cached call fails, its error is handled as `expr`'s would be."""
    cdef public bint recovering
    cdef public list children
    cdef public object key  # of this catch in the store, or None (not cached)
    cdef public object recovery  # the recover(error) call being evaluated

    def __init__(self, expr):
        ExpressionNode.__init__(self, expr)
        self.children = []

    cpdef release(self):
        Node.release(self)
        self.children = None
        self.recovery = None

    cpdef start(self, Graph graph):
        first = self.expr.args[0]
        if graph.caught is not None:
            self.key = graph.caught.key(self.expr)
            if self.key is not None:
                found = graph.caught.lookup(self.key)
                if found is not None:
                    first = found[0]
        self.children = graph.wait_for(self, first)

    cpdef ready(self, Graph graph):
        if self.recovering and self.key is not None:
            graph.caught.keep(self.key, self.recovery)
        graph.finish(self, graph.resolved(self))

    cpdef child_failed(self, Graph graph, object error):
        pairs = self.expr.args[1:]
        if not self.recovering:
            for error_class, recover in zip(pairs[::2], pairs[1::2]):
                if isinstance(error, error_class):
                    self.recovering = True
                    # Stop listening to the failed expression's other parts.
                    for child in self.children:
                        remove_parent(<Node>child, self)
                    self.waiting = 0
                    self.recovery = recover(error)
                    graph.wait_for(self, self.recovery)
                    return
        graph.fail(self, error)


@cython.no_gc
cdef class SeqNode(ExpressionNode):
    """`seq([a, b, c])`: evaluates a, then b, then c, one after the other; a list of values."""
    cdef public list values

    def __init__(self, expr):
        ExpressionNode.__init__(self, expr)
        self.values = []

    cpdef release(self):
        Node.release(self)
        self.values = None

    cpdef start(self, Graph graph):
        exprs = self.expr.args[0]
        if not exprs:
            graph.finish(self, [])
            return
        graph.wait_for(self, exprs[0])

    cpdef ready(self, Graph graph):
        self.values.append(graph.resolved(self))
        exprs = self.expr.args[0]
        if len(self.values) == len(exprs):
            graph.finish(self, self.values)
        else:
            graph.wait_for(self, exprs[len(self.values)])


@cython.no_gc
cdef class CatchAllNode(ExpressionNode):
    """`catch_all(exprs, ErrorClass, recover)`: lets every expression in `exprs` finish; if any
    raised and all of their errors are ErrorClass, evaluates `recover(values)`, `values` being
    `exprs` with each value in place and each error in place of its expression (redun's rule);
    else it fails with the first error that is not (or the first error, with no recover)."""
    cdef public list errors
    cdef public bint recovering

    def __init__(self, expr):
        ExpressionNode.__init__(self, expr)
        self.errors = []

    cpdef release(self):
        Node.release(self)
        self.errors = None

    cpdef start(self, Graph graph):
        graph.wait_for(self, self.expr.args[0])

    cpdef ready(self, Graph graph):
        if not self.errors or self.recovering:
            graph.finish(self, graph.resolved(self))
            return
        args = self.expr.args
        error_class = (args[1] if len(args) > 1 else None) or Exception
        recover = args[2] if len(args) > 2 else None
        unmatched = [error for error in self.errors if not isinstance(error, error_class)]
        if recover is None or unmatched:
            graph.fail(self, unmatched[0] if unmatched else self.errors[0])
            return
        self.recovering = True
        graph.wait_for(self, recover(graph.resolved(self)))  # a failed node's value: its error

    cpdef bint gathers(self, object error):
        if self.recovering:
            return False
        self.errors.append(error)
        return True

    cpdef child_failed(self, Graph graph, object error):
        if self.recovering:
            graph.fail(self, error)
            return
        self.errors.append(error)
        if self.waiting > 0:
            self.waiting -= 1  # a failure counts as finished: the others still run to the end
        if self.waiting == 0:
            self.ready(graph)


@cython.no_gc
cdef class ContextNode(SimpleNode):
    """`get_context(path, default)`: the value at `path` in the context of the job whose result
    holds it (graph.context_of); a default may be an expression. A task's own context
    (Task.update_context) comes with the get_context defaults of its calls, as a keyword."""

    cpdef object apply(self, Graph graph, tuple args, dict kwargs):
        context = graph.context_of(self.parent_job)
        own = kwargs.get(OWN_CONTEXT)
        if own is not None:
            context = merge_contexts([context, own])
            kwargs = {key: value for key, value in kwargs.items() if key != OWN_CONTEXT}
        return get_context_value(context, *args, **kwargs)


@cython.no_gc
cdef class TagsNode(SimpleNode):
    """`apply_tags(value, tags, job_tags, execution_tags)`: the value, once it and the tags are
    values; the tags are kept for the run's record (graph.tags, see redun_fast/tags.py)."""

    cpdef object apply(self, Graph graph, tuple args, dict kwargs):
        value, tags, job_tags, execution_tags = applied_tags(*args, **kwargs)
        graph.tags.append((self.parent_job, value, tags, job_tags, execution_tags))
        return value


def applied_tags(value, tags=(), job_tags=(), execution_tags=()):
    for given in (tags, job_tags, execution_tags):
        check_tags(given)
    return value, tags, job_tags, execution_tags


@cython.no_gc
cdef class ValueNode(SimpleNode):
    """A ValueExpression: its value."""

    cpdef object apply(self, Graph graph, tuple args, dict kwargs):
        return args[0]


_BUILTIN_NODES = {"redun.cond": CondNode, "redun.catch": CatchNode, "redun.seq": SeqNode,
                  "redun.catch_all": CatchAllNode, "redun.get_context": ContextNode,
                  "redun.value_task": ValueNode, "redun.apply_tags": TagsNode}


def node_for(expr):
    """The node of a SimpleExpression or a SchedulerExpression."""
    if isinstance(expr, SimpleExpression):
        return SimpleNode(expr)
    if isinstance(expr, SchedulerExpression):
        node_class = _BUILTIN_NODES.get(expr.task.fullname)
        if node_class is None:
            raise TypeError(f"unknown scheduler task {expr.task.fullname}")
        return node_class(expr)
    raise TypeError(f"cannot evaluate a {type(expr).__name__}: an Expression must be a task "
                    "call, a lazy operation or a built-in such as cond")
