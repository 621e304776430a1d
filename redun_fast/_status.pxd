# A job's status: the one declaration (csrc/_status.pyx exposes it to Python as an IntEnum,
# output.py names the table's columns from it). PENDING to DONE are the columns of the JOB
# STATUS table, in order, and the codes stored in job records. A graph node's state uses the
# same values: PENDING until it ends, then DONE or FAILED.
cpdef enum JobStatus:
    NEW = -1  # a job the ledger has not counted yet: in no column
    PENDING = 0
    RUNNING = 1
    FAILED = 2
    CACHED = 3
    DONE = 4
