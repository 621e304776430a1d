# cython: language_level=3
"""`JobStatus` (declared in redun_fast/_status.pxd), for Python: PENDING, RUNNING, FAILED,
CACHED, DONE, in the order of the JOB STATUS table's columns."""
