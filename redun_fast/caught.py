"""Handled errors are cached, as redun caches them.

A failed job is never cached, so an expression that fails would run again on every rerun of
a `catch` around it. redun instead keeps, once `recover(error)` succeeded, that recovery under
the catch's own hash (of its expression, error classes and recover tasks): a rerun evaluates
the recovery (its job replayed) and not the failing expression. The catch node
(csrc/_scheduler_nodes.pyx) asks this object for the key, the cached recovery and to keep a
new one; the recovery is committed with the run's results (it is no job, so `cache prune`
may drop it, and the catch then evaluates its expression once more).
"""
from typing import Any, Optional, Tuple

from redun_fast._core import HashError, eval_digest
from redun_fast.cache.serialize import CHECKED, ResultSerializer, load_checked, loads
from redun_fast.errors import SerializationError


class CaughtErrors:
    def __init__(self, store: Any, ledger: Any, use_cache: bool) -> None:
        self.store = store
        self.ledger = ledger
        self.use_cache = use_cache
        self.serializer = ResultSerializer()

    def key(self, expr: Any) -> Optional[bytes]:
        """The catch expression's key: None if a part of it cannot be hashed (not cached)."""
        try:
            return eval_digest(expr.task.digest, tuple(expr.args), dict(expr.kwargs))
        except (HashError, RecursionError):
            return None

    def lookup(self, key: bytes) -> Optional[Tuple[Any]]:
        """(the recovery kept for this catch,), or None."""
        if not self.use_cache:
            return None
        data = self.store.lookup([key], claim=False)[0]  # (a catch is no job to wait for)
        if type(data) is not bytes:  # none, or a damaged entry: evaluate the expression
            return None
        try:
            return (load_checked(data) if data[0] == CHECKED else loads(data),)
        except Exception:  # a stale File (StaleResultError), a renamed class: evaluate again
            return None

    def keep(self, key: bytes, recovery: Any) -> None:
        """The recovery succeeded: keep it for the next run of this catch."""
        try:
            data = self.serializer.dumps(recovery, "redun.catch", key)
        except SerializationError:
            return  # (a recover that is a plain function may return anything): not cached
        self.ledger.store(key, data[0] if isinstance(data, tuple) else data)
