# The expression classes (csrc/_expression.pyx), cimported by the graph core and the hashing
# walk so that they read an expression's fields directly.

cdef class Expression:
    cdef public object _hash  # 16-byte digest, once hashed (_nested.hash_tree)
    cdef public object _node  # its node in the run reducing it (_graph.Graph)


cdef class TaskExpression(Expression):
    cdef public object task
    cdef public tuple args
    cdef public dict kwargs


cdef class SchedulerExpression(TaskExpression):
    pass


cdef class SimpleExpression(Expression):
    cdef public str func_name
    cdef public tuple args
    cdef public dict kwargs
