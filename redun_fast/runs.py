"""The number of the current run in this process. What is remembered for one run (a File's
hash, the digest of a task's globals) is taken again once the next run starts: Scheduler.run
calls new_run first."""

number = 0


def new_run() -> None:
    global number
    number += 1
