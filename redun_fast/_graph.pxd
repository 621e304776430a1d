# The graph's classes (csrc/_graph.pyx), cimported by the scheduler's own nodes
# (csrc/_scheduler_nodes.pyx), the run ledger (csrc/_ledger.pyx) and the dispatch
# (csrc/_dispatch.pyx).
from redun_fast._expression cimport Expression, TaskExpression
from redun_fast._ledger cimport RunLedger


cdef class Graph


cdef class Node:
    cdef readonly Graph core  # the run whose graph holds this node
    cdef public object parents  # None, one Node, or a list of them: most nodes have one
    cdef public int waiting  # children not done yet
    cdef public int state  # a JobStatus: PENDING until the node ends DONE or FAILED
    cdef public object value  # once done: the value, or the error
    cdef public object template  # what the node waits for: a value with expressions inside
    cdef public bint concrete  # the template holds no expressions: it is its own value
    # The job whose result holds this node's expression (0: the run's root): a job's parent
    # in the call tree, and what the nodes it creates inherit (Graph.wait_for).
    cdef public unsigned long long parent_job

    cpdef start(self, Graph graph)
    cpdef ready(self, Graph graph)
    cpdef child_failed(self, Graph graph, object error)
    cpdef bint gathers(self, object error)
    cpdef release(self)


cdef class Job(Node):
    cdef public unsigned long long id  # shown as 16 hex digits; the logs show the first 8
    cdef public object task
    cdef public tuple args
    cdef public dict kwargs
    cdef public bytes eval_hash
    cdef public int status  # its JobStatus in the table: NEW until the ledger first counts it
    cdef public double started
    cdef public unsigned long long result_hash  # xxh3-64 of its result as stored (Dispatch)
    cdef public str executor  # how the log names the executor that ran it; None if cached
    # Set by the executor that ran it: (worker "host:pid", seconds, CPU seconds, peak bytes,
    # jobs) of the batch it ran in (protocol.Usage), or None if not measured.
    cdef public object usage


cdef class TaskNode(Node):
    cdef public TaskExpression expr
    cdef public Job job


cdef class Graph:
    cdef public RunLedger ledger  # where jobs' status changes are counted and recorded
    cdef public dict context  # the run's context, read by get_context (redun_fast/context.py)
    cdef public dict job_contexts  # job id -> its context, where its task has one of its own
    # (job id, value, tags, job_tags, execution_tags) of each apply_tags evaluated (tags.py)
    cdef public list tags
    cdef public object caught  # where catch nodes keep handled errors (caught.py), or None
    cdef list marked  # the expressions whose _node this run set; unset at release
    cdef public dict nodes
    cdef public dict jobs
    cdef public list to_start  # nodes to start, last in first out
    cdef public list finished  # nodes whose parents are not told yet, first in first out
    cdef Py_ssize_t finished_head
    cdef public list new_jobs  # jobs created since the last dispatch
    cdef unsigned long long job_number
    cdef object scheduler_node  # expression -> the node of a lazy operation or a built-in

    cpdef release(self)
    cpdef Node add_root(self, object expr)
    cdef Node new_node(self, Expression expr)
    cdef Node node_of(self, Expression expr)
    cpdef object value_of(self, Expression expr)
    cdef attach(self, Expression expr, Node node)
    cdef Job leaf_job(self, Expression expr, unsigned long long parent_job)
    cpdef propagate(self)
    cdef _tell(self, Node parent, Node node)
    cpdef list wait_for(self, Node node, object template)
    cpdef object resolved(self, Node node)
    cpdef finish(self, Node node, object value)
    cpdef fail(self, Node node, object error)
    cpdef request_job(self, TaskNode node, tuple args, dict kwargs)
    cdef Job job_of(self, object task, tuple args, dict kwargs, bytes eval_hash, bytes key)
    cdef Job job_in_context(self, object task, tuple args, dict kwargs, bytes eval_hash,
                            unsigned long long parent_job)
    cpdef dict context_of(self, unsigned long long job_id)


cdef remove_parent(Node child, Node parent)
