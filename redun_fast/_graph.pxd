# The graph core's classes (csrc/_graph.pyx), cimported by the scheduler's own nodes
# (csrc/_scheduler_nodes.pyx).
from redun_fast._expression cimport Expression, TaskExpression
from redun_fast._records cimport JobRecords


cdef class ReductionCore


cdef class Node:
    cdef readonly ReductionCore core  # the run whose graph holds this node
    cdef public object parents  # None, one Node, or a list of them: most nodes have one
    cdef public int waiting  # children not done yet
    cdef public int state  # PENDING, DONE or FAILED
    cdef public object value  # once done: the value, or the error
    cdef public object template  # what the node waits for: a value with expressions inside
    cdef public bint concrete  # the template holds no expressions: it is its own value

    cpdef start(self, ReductionCore reduction)
    cpdef ready(self, ReductionCore reduction)
    cpdef child_failed(self, ReductionCore reduction, object error)
    cpdef release(self)


cdef class Job(Node):
    cdef public unsigned long long id  # shown as 16 hex digits; the logs show the first 8
    cdef public object task
    cdef public tuple args
    cdef public dict kwargs
    cdef public bytes eval_hash
    cdef public int status  # a report.STATUSES index once dispatched, else -1
    cdef public double started


cdef class TaskNode(Node):
    cdef public TaskExpression expr
    cdef public Job job


cdef class ReductionCore:
    cdef list marked  # the expressions whose _node this run set; unset at release
    cdef public dict nodes
    cdef public dict jobs
    cdef public list to_start  # nodes to start, last in first out
    cdef public list finished  # nodes whose parents are not told yet, first in first out
    cdef Py_ssize_t finished_head
    cdef public list new_jobs  # jobs created since the last dispatch
    cdef public JobRecords job_records  # of jobs finished since the last commit
    cdef public object counts  # report.JobCounts of this run
    cdef dict count_rows  # its rows, task name -> [count per status], updated here directly
    cdef unsigned long long job_number
    cdef public list to_store  # (eval hash, serialized result) waiting for the next commit
    cdef public Py_ssize_t running  # jobs handed to executors and not back yet
    cdef public object root_task  # runs in the scheduler; its result is its argument
    cdef object scheduler_node  # expression -> the node of a lazy operation or a built-in

    cpdef release(self)
    cpdef Node add_root(self, object expr)
    cdef Node new_node(self, Expression expr)
    cdef Node node_of(self, Expression expr)
    cpdef object value_of(self, Expression expr)
    cdef attach(self, Expression expr, Node node)
    cdef Job leaf_job(self, Expression expr)
    cpdef propagate(self)
    cdef _tell(self, Node parent, Node node)
    cpdef list wait_for(self, Node node, object template)
    cpdef object resolved(self, Node node)
    cpdef finish(self, Node node, object value)
    cpdef fail(self, Node node, object error)
    cdef count(self, str task_name, int status)
    cdef move(self, str task_name, int old, int new)
    cpdef list replay(self, list jobs, list found, bint log)
    cpdef dict plan(self, list jobs, bint log)
    cpdef ingest(self, list records)
    cdef record(self, Job job, unsigned char status, object error)
    cpdef request_job(self, TaskNode node, tuple args, dict kwargs)
    cdef Job job_of(self, object task, tuple args, dict kwargs, bytes eval_hash)


cdef remove_parent(Node child, Node parent)
