"""What a long run shows while it runs: one updating line on a terminal, tables in a log.

On a terminal (stderr is a tty), after the first `delay` seconds a single line is redrawn
every `interval`: done / cached / running / failed / total, jobs per second and an ETA; it
is erased before the final JOB STATUS table. Elsewhere (a CI log, a file) nothing is
redrawn; the JOB STATUS table is logged every `table_interval` seconds instead, as redun does.
"""
import sys
import time
from typing import Any, Callable, Optional, TextIO


class Progress:
    def __init__(self, counts: Any, log_table: Callable[[], None],
                 stream: Optional[TextIO] = None, delay: float = 2.0, interval: float = 0.5,
                 table_interval: float = 20.0) -> None:
        self.counts = counts  # output.JobCounts of the run
        self.log_table = log_table
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self.interval = interval if self.live else table_interval
        self.next = self.start + (delay if self.live else table_interval)
        self.shown = False

    @property
    def wait(self) -> float:
        """How long the loop may block before the next update is due."""
        return max(0.0, self.next - time.monotonic())

    def tick(self) -> None:
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + self.interval
        if self.live:
            self.stream.write("\r" + self.line(now - self.start) + "\033[K")
            self.stream.flush()
            self.shown = True
        else:
            self.log_table()

    def line(self, elapsed: float) -> str:
        c = self.counts.get_all()
        finished = c["DONE"] + c["CACHED"] + c["FAILED"]
        rate = finished / elapsed if elapsed > 0 else 0.0
        left = c["TOTAL"] - finished
        eta = f"{left / rate:.0f}s" if rate > 0 else "?"
        return (f"[redun] {finished}/{c['TOTAL']} jobs: {c['DONE']} done, {c['CACHED']} cached, "
                f"{c['RUNNING']} running, {c['FAILED']} failed | {rate:,.0f} jobs/s | "
                f"ETA {eta} (more jobs may appear)")

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
