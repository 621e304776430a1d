# Shared by the hashing core (csrc/_core.pyx) and the nested-value walks (csrc/_nested.pyx).
cdef enum:
    MAX_DEPTH = 2000  # deeper values are an error (TOO_DEEP): a cycle, or far too nested
