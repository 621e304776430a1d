"""The workload every benchmark shares: a fan-out of N jobs `inc(x)` and one `total` of them."""
from redun_fast import task

redun_namespace = "bench"


@task
def inc(x):
    return x + 1


@task
def total(values):
    return sum(values)


def fanout(n: int):
    """The expression, and the value it must reduce to."""
    return total([inc(i) for i in range(n)]), n * (n + 1) // 2
