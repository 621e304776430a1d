# What the graph core (_graph.pyx) uses from csrc/_nested.pyx without a Python call.

cdef inline bint scalar(object value):
    """A value with nothing inside to walk: no expression can hide in it."""
    cdef type cls = type(value)
    return (cls is int or cls is str or cls is float or cls is bool or cls is bytes
            or value is None)


cdef bytes leaf_call_hash(object expr)
