# cython: language_level=3
"""The expression graph of one run and its transitions: the hot path of the graph.

A node waits for a template (a value with expressions inside): `waiting` counts its pending
child nodes; when it reaches zero `ready()` is called. A node ends with `finish(node, value)`
or `fail(node, error)`, and its parents hear of it in `propagate`. Jobs are nodes too: one per
eval hash, waiting for the expressions inside the task's result; a call on plain scalars,
the leaf of a fan-out, is represented by its job alone. Each expression points at its node
(`expr._node`). A job's status changes go through the run's ledger (`graph.ledger`,
_ledger.pyx); the graph does no I/O and knows nothing of the cache or the executors.
"""
cimport cython

import random

from redun_fast._core import HashError, eval_digest, hash_value
from redun_fast._expression cimport Expression, SchedulerExpression, TaskExpression
from redun_fast._ledger cimport RunLedger
from redun_fast._nested cimport leaf_call_hash, scalar
from redun_fast._nested import find_expressions, substitute
from redun_fast._status cimport NEW, PENDING, DONE, FAILED
from redun_fast.context import merge_contexts

DEF SCRAMBLE = 0x9E3779B97F4A7C15  # odd: consecutive job numbers look random in the logs

# (args, kwargs) -> None, or the arguments with Values preprocessed (redun's Value.preprocess,
# before the call is hashed). Set by redun_fast.value once a Value class defines preprocess:
# until then a job pays one pointer comparison for it.
cdef object _preprocess = None


def use_preprocess(hook):
    global _preprocess
    _preprocess = hook


# Set once a task has a context of its own (Task.update_context): from then on a job's
# context is looked up where it is created (Graph.job_in_context); until then a job pays one
# flag test for it.
cdef bint _job_contexts = False


def use_job_contexts():
    global _job_contexts
    _job_contexts = True


cdef inline _add_parent(Node child, Node parent):
    if child.parents is None:
        child.parents = parent
    elif type(child.parents) is list:
        (<list>child.parents).append(parent)
    else:
        child.parents = [child.parents, parent]


cdef remove_parent(Node child, Node parent):
    """Remove one occurrence of `parent` (a node may wait twice for one child)."""
    if child.parents is parent:
        child.parents = None
    elif type(child.parents) is list and parent in <list>child.parents:
        (<list>child.parents).remove(parent)


@cython.no_gc
cdef class Node:
    """A part of the graph (fields in _graph.pxd): an expression, or a job."""

    def __cinit__(self):
        self.concrete = True

    cpdef start(self, Graph graph):
        """Called once, after the node enters the graph."""
        raise NotImplementedError

    cpdef ready(self, Graph graph):
        """Called when every child the node waited for is done."""
        graph.finish(self, graph.resolved(self))

    cpdef child_failed(self, Graph graph, object error):
        graph.fail(self, error)

    cpdef bint gathers(self, object error):
        """A child this node waits for had failed already: a node that lets every child finish
        (catch_all) keeps the error and returns True; the others fail with it (False)."""
        return False

    cpdef release(self):
        """Drop every reference to other nodes and values (see Graph.release)."""
        self.core = None
        self.parents = None
        self.template = None
        self.value = None


@cython.no_gc
cdef class Job(Node):
    """One call of a task with concrete arguments: the unit that is cached and executed."""

    cpdef start(self, Graph graph):
        """A job that stands for a leaf call in the graph (see wait_for) is new: dispatch it."""
        graph.new_jobs.append(self)


@cython.no_gc
cdef class TaskNode(Node):
    """A TaskExpression: waits for its arguments, then for the job of that call."""

    cpdef release(self):
        Node.release(self)
        self.job = None

    cpdef start(self, Graph graph):
        # (A leaf call, f(1, "a"), gets no TaskNode unless it is the run's root: leaf_job.)
        graph.wait_for(self, (self.expr.args, self.expr.kwargs))

    cpdef ready(self, Graph graph):
        if self.job is None:
            args, kwargs = graph.resolved(self)
            graph.request_job(self, args, kwargs)
        else:
            graph.finish(self, self.job.value)


cdef class Graph:
    """The graph of one run: nodes by expression, jobs by eval hash.

    An expression points at its node (`expr._node`); `nodes` (by id) holds the nodes of
    expressions that another run, in another thread, points at already. Task calls get their
    nodes here; lazy operations and the scheduler's built-ins (cond, catch, seq, catch_all)
    get theirs from `scheduler_node(expr)` (_scheduler_nodes.node_for).
    """

    def __init__(self, RunLedger ledger, scheduler_node):
        self.ledger = ledger
        self.scheduler_node = scheduler_node
        self.context = {}
        self.job_contexts = {}
        self.tags = []
        self.caught = None
        self.nodes = {}
        self.marked = []
        self.jobs = {}
        self.to_start = []
        self.finished = []
        self.finished_head = 0
        self.new_jobs = []
        self.job_number = random.getrandbits(64)

    cpdef release(self):
        """End of the run: drop the references between nodes and from nodes to values.

        Nodes are not tracked by the garbage collector (tracking a million of them took a
        tenth of a cached run), so no reference cycle through them may outlive the run: a
        failed job's error, for one, holds its traceback, whose frames hold the job.
        """
        cdef Node node
        cdef Expression expr
        for expr in self.marked:
            (<Node>expr._node).release()
            expr._node = None
        self.marked = []
        for node in self.nodes.values():
            node.release()
        for node in self.jobs.values():
            node.release()
        for node in self.to_start:
            node.release()
        self.to_start = []
        self.finished = []
        self.new_jobs = []

    cpdef Node add_root(self, object expr):
        root = self.new_node(expr)
        self.attach(expr, root)
        self.to_start.append(root)
        return root

    cdef Node new_node(self, Expression expr):
        cdef TaskNode node
        if isinstance(expr, TaskExpression) and not isinstance(expr, SchedulerExpression):
            node = TaskNode.__new__(TaskNode)  # skips __init__'s argument parsing
            node.expr = <TaskExpression>expr
            return node
        return self.scheduler_node(expr)

    cdef Node node_of(self, Expression expr):
        """This run's node of `expr`, or None."""
        node = expr._node
        if node is not None and (<Node>node).core is self:
            return <Node>node
        if self.nodes:
            return self.nodes.get(id(expr))
        return None

    cpdef object value_of(self, Expression expr):
        """The value of `expr`'s node in this run (for _nested.substitute)."""
        return self.node_of(expr).value

    cdef attach(self, Expression expr, Node node):
        node.core = self
        if expr._node is None:
            expr._node = node
            self.marked.append(expr)
        else:  # another run reduces this expression at the same time
            self.nodes[id(expr)] = node

    cdef Job leaf_job(self, Expression expr, unsigned long long parent_job):
        """The job of `expr` if it is a plain call on scalars, `f(1, "a")`, else None.

        Such a call has nothing to wait for, so its job is its node in the graph: a fan-out's
        million leaves need no node of their own.
        """
        try:
            eval_hash = leaf_call_hash(expr)
        except (HashError, RecursionError):
            return None  # its TaskNode names the argument
        if eval_hash is None:
            return None
        cdef TaskExpression call = <TaskExpression>expr
        if _job_contexts:
            return self.job_in_context(call.task, call.args, call.kwargs, eval_hash, parent_job)
        return self.job_of(call.task, call.args, call.kwargs, eval_hash, eval_hash)

    cpdef propagate(self):
        """Start new nodes and tell parents about finished nodes until nothing changes."""
        cdef list to_start = self.to_start
        cdef list finished = self.finished
        cdef Node node
        while to_start or self.finished_head < len(finished):
            while to_start:
                (<Node>to_start.pop()).start(self)
            while self.finished_head < len(finished):
                node = finished[self.finished_head]
                finished[self.finished_head] = None
                self.finished_head += 1
                parents = node.parents
                node.parents = None
                if type(parents) is list:
                    for parent in <list>parents:
                        self._tell(<Node>parent, node)
                elif parents is not None:
                    self._tell(<Node>parents, node)
            del finished[:]
            self.finished_head = 0

    cdef _tell(self, Node parent, Node node):
        """`node` finished: its parent waits for one child less, or fails with it."""
        if parent.state != PENDING:
            return
        if node.state == DONE:
            parent.waiting -= 1
            if parent.waiting == 0:
                parent.ready(self)
        else:
            parent.child_failed(self, node.value)

    cpdef list wait_for(self, Node node, object template):
        """Make `node` wait for the expressions in `template`; call `ready` if there are none."""
        cdef list linked = []
        cdef list new = []
        cdef Node child
        cdef unsigned long long parent_job
        cdef Node failed = None
        node.template = template
        if scalar(template):  # the common result, an int or a str: nothing to look into
            node.concrete = True
            if node.waiting == 0:
                node.ready(self)
            return linked
        exprs = find_expressions(template, [])
        node.concrete = not exprs
        # A job's result calls its children; any other node's expressions belong to its job.
        parent_job = (<Job>node).id if type(node) is Job else node.parent_job
        for expr in exprs:
            child = self.node_of(expr)
            if child is None:
                child = self.leaf_job(expr, parent_job)
                if child is None:
                    child = self.new_node(expr)
                    child.parent_job = parent_job
                    new.append(child)
                elif child.core is None:  # a new job
                    child.parent_job = parent_job
                    new.append(child)
                self.attach(expr, child)
            if child.state == PENDING:
                _add_parent(child, node)
                node.waiting += 1
                linked.append(child)
            elif child.state == FAILED and not node.gathers(child.value):
                failed = child
                break
        # Started last-in first-out: reversed keeps left-to-right order of submission.
        new.reverse()
        self.to_start.extend(new)
        if failed is not None:
            for child in linked:
                remove_parent(child, node)
            node.waiting = 0
            node.child_failed(self, failed.value)
        elif node.waiting == 0:
            node.ready(self)
        return linked

    cpdef object resolved(self, Node node):
        """The node's template with each expression replaced by its value."""
        return node.template if node.concrete else substitute(node.template, self)

    cpdef finish(self, Node node, object value):
        node.state = DONE
        node.value = value
        if type(node) is Job:
            self.ledger.done(<Job>node)
        self.finished.append(node)

    cpdef fail(self, Node node, object error):
        node.state = FAILED
        node.value = error
        if type(node) is Job:
            self.ledger.failed(<Job>node, error)
        self.finished.append(node)

    cpdef request_job(self, TaskNode node, tuple args, dict kwargs):
        """Attach a task node whose arguments are concrete to the job of that call."""
        cdef Job job
        cdef TaskExpression expr = node.expr
        task = expr.task
        # A plain call whose arguments held no expressions was hashed as exactly this call.
        eval_hash = expr._hash if node.concrete and type(expr) is TaskExpression else None
        if _preprocess is not None:
            try:
                preprocessed = _preprocess(args, kwargs)
            except Exception as error:
                self.fail(node, error)
                return
            if preprocessed is not None:
                args, kwargs = preprocessed
                eval_hash = None
        if eval_hash is None:
            try:
                eval_hash = eval_digest(task.digest, args, kwargs)
            except (HashError, RecursionError) as error:
                self.fail(node, argument_error(task, args, kwargs, error))
                return
        if _job_contexts:
            job = self.job_in_context(task, args, kwargs, eval_hash, node.parent_job)
        else:
            job = self.job_of(task, args, kwargs, eval_hash, eval_hash)
        if job.core is None:
            job.core = self
            job.parent_job = node.parent_job
            self.new_jobs.append(job)
        node.job = job
        if job.state == PENDING:
            _add_parent(job, node)
            node.waiting = 1
        elif job.state == DONE:
            self.finish(node, job.value)
        else:
            self.fail(node, job.value)

    cdef Job job_of(self, object task, tuple args, dict kwargs, bytes eval_hash, bytes key):
        """The job of this call: found by its key (its eval hash, see job_in_context), or new
        (its `core` still unset)."""
        cdef Job job = self.jobs.get(key)
        if job is None:
            self.job_number += 1
            job = Job.__new__(Job)  # skips __init__'s argument parsing: once per job
            job.id = self.job_number * <unsigned long long>SCRAMBLE  # wraps around 2**64
            job.task = task
            job.args = args
            job.kwargs = kwargs
            job.eval_hash = eval_hash
            job.status = NEW
            self.jobs[key] = job
        return job

    cdef Job job_in_context(self, object task, tuple args, dict kwargs, bytes eval_hash,
                            unsigned long long parent_job):
        """job_of, where tasks may have contexts of their own: a job's context is its parent
        job's, updated by its task's (redun's rule); a call made in two contexts is two jobs,
        since what it returns may read the context (they share the eval hash, so the cache)."""
        context = self.job_contexts.get(parent_job)
        override = getattr(task, "context_override", None)
        if override:
            context = merge_contexts([self.context if context is None else context, override])
        if context is None:
            return self.job_of(task, args, kwargs, eval_hash, eval_hash)
        cdef Job job = self.job_of(task, args, kwargs, eval_hash,
                                   eval_hash + hash_value(context).encode())
        if job.core is None:
            self.job_contexts[job.id] = context
        return job

    cpdef dict context_of(self, unsigned long long job_id):
        """The context get_context reads in the result of the job `job_id` (0: the root)."""
        context = self.job_contexts.get(job_id) if self.job_contexts else None
        return self.context if context is None else context


def argument_error(task, tuple args, dict kwargs, error):
    """Name the argument that cannot be hashed, and the task."""
    for name, value in task.named_arguments(args, kwargs).items():
        try:
            hash_value(value)
        except (HashError, RecursionError) as cause:
            return HashError(f"argument {name!r} of {task.fullname} cannot be hashed: {cause}")
    return HashError(f"arguments of {task.fullname} cannot be hashed: {error}")
