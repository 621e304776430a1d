"""The Slurm executor's workers mode: pilot workers (pilot.py) that Slurm places on nodes and
that pull batches of jobs from the scheduler over an authenticated connection (network.py).

Ready jobs are grouped by resources (their sbatch flags); each group has a Feeder (feeder.py:
batch sizing, deaths, a job that kills `max_crashes` workers fails) and the pilots that serve
it. One thread owns all connections, as the process pool's does; another accepts pilots (the
handshake takes a round trip) and hands them over. Workers are asked for as jobs wait: one
sbatch array per group per `submit_interval` at most, up to `max_workers` per group, and one
`squeue` per poll for the elements that have not connected yet (an element that leaves the
queue without connecting died as it started: after three, its group's jobs fail with the
element's log). Pilots leave after `idle_timeout` without work; the executor's stop (the
scheduler closing, Ctrl-C) tells the others to stop and cancels what is left.

A run's folder, `workers/<run>/` in the staging folder, holds the secret (0600), the address,
the pilots' logs and messages too large for the socket; it is removed at stop.
"""
import json
import logging
import math
import os
import pickle
import queue
import shutil
import sys
import threading
import time
import uuid
from multiprocessing.connection import wait
from typing import Any, Dict, List, Optional, Sequence, Tuple

from redun_fast.errors import SecurityError, SlurmError
from redun_fast.executors.base import Deliver, Outstanding, thread_failed
from redun_fast.executors.feeder import Feeder, WorkerHandle
from redun_fast.executors.network import Listener
from redun_fast.executors.slurm import owner
from redun_fast.executors.slurm import sbatch as slurm
from redun_fast.executors.slurm.executor import SlurmExecutor
from redun_fast.executors.slurm.options import sbatch_flags, time_seconds
from redun_fast.executors.slurm.sbatch import FAILED_STATES
from redun_fast.executors.transport import receive_message, send_message
from redun_fast.executors.worker_loop import PING
from redun_fast.private import make_private_dir, write_private
from redun_fast.signing import new_key

logger = logging.getLogger("redun_fast")
DRAIN_SECONDS = 60  # Slurm warns a pilot this long before its time limit (it may be late)
SUBMIT_GRACE = 10.0  # seconds squeue may not list a new array yet


class _Group:
    """The jobs of one set of resources, and the pilots that serve them."""

    def __init__(self, number: int, flags: Tuple[str, ...], options: Dict[str, Any],
                 worker_time: Any, outstanding: Outstanding, batch_seconds: float,
                 max_crashes: int) -> None:
        self.number = number
        self.job_seconds = time_seconds(options.get("time"))  # a job's limit, if it has one
        # A job with a time limit goes alone, so that each is checked against the time its
        # worker has left (_Pilot.accepting).
        max_batch = 1 if self.job_seconds is not None else 4096
        self.feeder = Feeder(outstanding, batch_seconds, max_batch, max_crashes=max_crashes)
        self.cpus = options.get("cpus") or 1
        worker_seconds = max(time_seconds(worker_time) or 0, self.job_seconds or 0)
        self.worker_seconds = worker_seconds or None
        self.flags = tuple(flag for flag in flags if not flag.startswith("--time=")) + (
            (f"--time={math.ceil(worker_seconds / 60)}",) if worker_seconds else ())
        self.workers: List[_Pilot] = []
        self.coming: Dict[str, float] = {}  # element -> when submitted: not connected yet
        self.last_sbatch = -math.inf


class _Pilot(WorkerHandle):
    """A pilot's connection, as the feeder and the executor's thread see it."""

    def __init__(self, conn: Any, group: _Group, folder: str, key: bytes, hello: tuple) -> None:
        super().__init__()
        _, self.element, self.host, self.pid, self.slot, started, self.node = hello
        self.conn = conn
        self.group = group
        self.folder = folder
        self.key = key  # the run's: every message to and from it is signed with it
        self.last_heard = time.monotonic()
        self.cause = "its connection closed"
        self.deadline = started + group.worker_seconds if group.worker_seconds else None

    @property
    def label(self) -> str:
        return f"the Slurm worker {self.element} on {self.node or self.host} (pid {self.pid})"

    def send(self, data: bytes) -> None:
        send_message(self.conn, data, f"to-{self.element}-{self.slot}-", self.folder, self.key)

    def accepting(self) -> bool:
        """Whether a job of its group, queued behind what it holds, would finish in time."""
        limit = self.group.job_seconds
        if self.deadline is None or limit is None:
            return True
        if self.batches_done == 0 and not self.inflight:  # asked for these very jobs
            return True
        return time.time() + (len(self.inflight) + 1) * limit <= self.deadline

    def how_it_died(self) -> str:
        array_id, _, index = self.element.partition("_")
        log = _log_path(self.folder, self.element)
        return (f"{self.cause}; Slurm says {slurm.explain(array_id, int(index))}; "
                f"log {log}: {slurm.tail(log)}")


class WorkerSlurmExecutor(SlurmExecutor):
    """SlurmExecutor(mode="workers"): pilot workers pull jobs (see SlurmExecutor for the
    arguments)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()  # groups are added to from the scheduler's thread
        self._thread: Optional[threading.Thread] = None
        self._groups: Dict[Tuple[str, ...], _Group] = {}
        self._arrays: Dict[str, _Group] = {}  # Slurm array id -> its group
        self._outstanding = Outstanding()
        self._stopping = False
        self.workers_connected = 0  # for tests and benchmarks
        self.squeue_calls = 0
        self._lease = owner.Lease()

    # The scheduler's side.

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                if self._thread.is_alive() and not self._outstanding.failed:
                    return
                self._thread.join()  # it failed: it is cancelling its workers
                self._thread = None  # start afresh
            make_private_dir(self.staging_dir, "Slurm staging folder", self.shared)
            runs = os.path.join(self.staging_dir, "workers")
            os.makedirs(runs, mode=0o700, exist_ok=True)
            _remove_dead_runs(runs)
            self._folder = os.path.join(runs, uuid.uuid4().hex[:12])
            os.makedirs(self._folder, mode=0o700)
            owner.claim(self._folder)
            key = self._key = new_key(os.path.join(self._folder, "key"))
            self._listener = Listener(key, self.address or owner.HOST, self.port)
            write_private(os.path.join(self._folder, "config.json"), json.dumps({
                "address": self._listener.address, "sys_path": list(sys.path),
                "heartbeat": self.heartbeat, "heartbeat_timeout": self.heartbeat_timeout,
                "idle_timeout": self.idle_timeout}).encode())
            self._stopping = False
            self._outstanding = Outstanding()
            self._groups, self._arrays = {}, {}
            self._arrivals: "queue.SimpleQueue" = queue.SimpleQueue()
            self._wake_r, self._wake_w = os.pipe()
            threading.Thread(target=self._accept, name="redun_fast slurm accept",
                             daemon=True).start()
            self._thread = threading.Thread(target=self._loop, name="redun_fast slurm",
                                            daemon=True)
            self._thread.start()

    def submit_batch(self, jobs: Sequence[Any], deliver: Deliver) -> None:
        self.start()
        if not self._outstanding.add(jobs, deliver):
            return
        by_task: Dict[Any, list] = {}
        for job in jobs:
            by_task.setdefault(job.task, []).append(job)
        with self._lock:
            for task, task_jobs in by_task.items():
                options = {**self.options, **task.task_options}
                self.note_requested(task, options)
                group = self._group(options)
                if group.feeder.broken is not None:
                    self._outstanding.deliver(
                        [(job, False, group.feeder.broken) for job in task_jobs])
                else:
                    group.feeder.add(task_jobs)
        os.write(self._wake_w, b"x")

    def _group(self, options: Dict[str, Any]) -> _Group:
        flags = sbatch_flags(options)  # checked when the task was defined
        group = self._groups.get(flags)
        if group is None:
            group = _Group(len(self._groups), flags, options, self.worker_time,
                           self._outstanding, self.batch_seconds, self.max_crashes)
            self._groups[flags] = group
        return group

    def stop(self) -> None:
        """Tell the workers to stop, cancel the run's Slurm jobs, remove its folder."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        os.write(self._wake_w, b"x")
        thread.join()
        self._thread = None
        os.close(self._wake_r)
        os.close(self._wake_w)

    # The accepting thread.

    def _accept(self) -> None:
        listener = self._listener
        while not self._stopping:
            try:
                conn = listener.accept(send_timeout=self.heartbeat_timeout,
                                       receive_timeout=self.heartbeat_timeout)
                hello = pickle.loads(receive_message(conn, self._key, "a Slurm worker"))
            except SecurityError as error:
                logger.warning("%s", error)
                continue
            except (OSError, EOFError, pickle.UnpicklingError):
                if self._stopping:
                    return
                continue  # it failed the handshake or left: it is not ours to wait for
            self._arrivals.put((conn, hello))
            os.write(self._wake_w, b"x")

    # The executor's thread.

    def _loop(self) -> None:
        try:
            self._serve()
        except Exception as error:  # a bug here must not leave the run waiting forever
            self._outstanding.fail_all(thread_failed(self, error))  # error is their cause
        finally:
            self._shutdown()

    def _serve(self) -> None:
        next_ping = next_poll = time.monotonic()
        while not self._stopping:
            self._take_arrivals()
            for group in list(self._groups.values()):
                for pilot in group.feeder.distribute(group.workers, len(group.coming)):
                    self._died(pilot, "its connection broke as a batch was sent")
                self._retire(group)
                self._scale(group)
            now = time.monotonic()
            if now >= next_ping:
                self._ping(now)
                next_ping = now + self.heartbeat
                self._lease.renew(now, [self._folder])
            coming = any(group.coming for group in self._groups.values())
            if coming and now >= next_poll:
                self._poll()
                next_poll = now + self.poll_interval
            timeout = min(next_ping, next_poll if coming else math.inf,
                          self._next_submit()) - time.monotonic()
            waitables = [self._wake_r] + [pilot.conn for group in self._groups.values()
                                          for pilot in group.workers]
            for ready in wait(waitables, max(0.0, timeout)):
                if ready == self._wake_r:
                    os.read(self._wake_r, 4096)
                else:
                    self._read(self._pilot_of(ready))

    def _take_arrivals(self) -> None:
        while True:
            try:
                conn, hello = self._arrivals.get_nowait()
            except queue.Empty:
                return
            group = self._arrays.get(str(hello[1]).partition("_")[0])
            if group is None:  # not an element we submitted (a scancelled one, say)
                conn.close()
                continue
            group.coming.pop(hello[1], None)
            group.workers.append(_Pilot(conn, group, self._folder, self._key, hello))
            self.workers_connected += 1

    def _pilot_of(self, conn: Any) -> _Pilot:
        for group in self._groups.values():
            for pilot in group.workers:
                if pilot.conn is conn:
                    return pilot
        raise LookupError("a connection of no worker")  # a bug: _loop fails the run

    def _read(self, pilot: _Pilot) -> None:
        try:
            data = receive_message(pilot.conn, pilot.key, pilot.label)
        except (EOFError, OSError):
            return self._died(pilot, "its connection closed")
        except SecurityError as error:  # a forged spill file: trust nothing more from it
            logger.error("%s", error)
            return self._died(pilot, str(error))
        pilot.last_heard = time.monotonic()
        self._received(pilot, data)

    def _received(self, pilot: _Pilot, data: bytes) -> None:
        if data == PING:
            return
        kind, *body = pickle.loads(data)
        feeder = pilot.group.feeder
        if kind == "results":
            feeder.received(pilot, *body)
        elif kind == "refused":
            feeder.refused(pilot, *body)
        elif kind == "leaving":  # idle, or its allocation ends: it ran what it said it did
            feeder.left(pilot)
            self._remove(pilot)
        else:  # a task printed: show it where the scheduler's output goes
            stream = sys.stdout if kind == "stdout" else sys.stderr
            stream.write(body[0])
            stream.flush()

    def _died(self, pilot: _Pilot, cause: str) -> None:
        if pilot.dead:
            return
        pilot.cause = cause
        try:  # what it sent before it died counts: see Feeder.died
            while pilot.conn.poll():
                self._received(pilot, receive_message(pilot.conn, pilot.key, pilot.label))
        except (EOFError, OSError, SecurityError):
            pass
        if not pilot.dead:  # (it may have said it was leaving)
            pilot.group.feeder.died(pilot)
            self._remove(pilot)

    def _remove(self, pilot: _Pilot) -> None:
        pilot.conn.close()
        pilot.group.workers.remove(pilot)

    def _ping(self, now: float) -> None:
        for group in list(self._groups.values()):
            for pilot in list(group.workers):
                if now - pilot.last_heard > self.heartbeat_timeout:
                    self._died(pilot, f"it sent nothing for {self.heartbeat_timeout:g} s "
                                      "(its node is down or cut off)")
                    slurm.scancel([pilot.element])  # in case it still runs, unreachable
                    continue
                try:
                    pilot.send(PING)
                except OSError:
                    self._died(pilot, "its connection broke")

    def _retire(self, group: _Group) -> None:
        """Stop the idle workers that may not take their group's jobs any more (too little
        time left), so that their allocation goes back to Slurm."""
        for pilot in list(group.workers):
            if not pilot.inflight and not pilot.accepting():
                try:
                    pilot.send(pickle.dumps(("stop",)))
                except OSError:
                    pass
                pilot.dead = True
                self._remove(pilot)

    def _scale(self, group: _Group) -> None:
        """Ask Slurm for workers while this group's jobs wait for one (see the docstring)."""
        waiting = group.feeder.waiting
        if not waiting or group.feeder.broken is not None:
            return
        if time.monotonic() - group.last_sbatch < self.submit_interval:
            return
        count = min(self.max_workers - len(group.workers) - len(group.coming),
                    waiting - len(group.coming))
        if count <= 0:
            return
        group.last_sbatch = time.monotonic()
        script = os.path.join(self._folder, f"group_{group.number}.sbatch")
        with open(script, "w") as out:
            out.write(slurm.render_pilot_script(
                self._folder, count, group.flags, f"redun_fast-workers-{group.number}",
                group.cpus, DRAIN_SECONDS))
        try:
            array_id = slurm.sbatch(script)
        except SlurmError as error:  # sbatch refused it: the group's jobs cannot run
            group.feeder.fail_all(error)
            return
        self.sbatch_calls += 1
        self.elements_submitted += count
        self.array_ids.append(array_id)
        self._arrays[array_id] = group
        submitted = time.time()
        group.coming.update((f"{array_id}_{index}", submitted) for index in range(count))

    def _next_submit(self) -> float:
        """When a group whose jobs wait may next submit workers (or never: math.inf)."""
        times = [group.last_sbatch + self.submit_interval for group in self._groups.values()
                 if group.feeder.waiting and group.feeder.broken is None]
        return min(times, default=math.inf)

    def _poll(self) -> None:
        """Elements that left Slurm's queue without connecting died as they started."""
        arrays = {element.partition("_")[0] for group in self._groups.values()
                  for element in group.coming}
        self.squeue_calls += 1
        states = slurm.squeue(arrays)
        if states is None:  # the controller did not answer: judge nothing this time
            return
        self._take_arrivals()  # an element that connected meanwhile did not die
        for group in self._groups.values():
            for element, submitted in list(group.coming.items()):
                array_id, _, index = element.partition("_")
                state = slurm.element_state(states, array_id, int(index))
                if state is not None and state not in FAILED_STATES and state != "COMPLETED":
                    continue  # pending or running
                if state is None and time.time() - submitted < SUBMIT_GRACE:
                    continue  # just submitted: squeue may not list it yet
                del group.coming[element]
                log = _log_path(self._folder, element)
                how = (f"Slurm job {element} ended before it connected to the scheduler at "
                       f"{self._listener.address[0]}:{self._listener.address[1]} "
                       f"({state or 'VANISHED'}: {slurm.explain(array_id, int(index))}); "
                       f"log {log}: {slurm.tail(log)}")
                group.feeder.failed_to_start(how)

    def _shutdown(self) -> None:
        self._listener.close()
        cancel = set()
        for group in self._groups.values():
            for pilot in group.workers:
                try:
                    pilot.send(pickle.dumps(("stop",)))
                except OSError:
                    pass
                pilot.conn.close()
                cancel.add(pilot.element.partition("_")[0])
            cancel.update(element.partition("_")[0] for element in group.coming)
            group.workers.clear()
            group.feeder.clear()
        slurm.scancel(sorted(cancel))
        shutil.rmtree(self._folder, ignore_errors=True)


def _log_path(folder: str, element: str) -> str:
    return os.path.join(folder, f"log_{element}.out")


def _remove_dead_runs(runs: str) -> None:
    """Remove the run folders of schedulers that were killed (their pilots left when the
    connection closed): on this host, once their pid is gone; on another, once their lease ran
    out (owner.py)."""
    for name in os.listdir(runs):
        folder = os.path.join(runs, name)
        found = owner.read(folder)
        if found is None:
            continue  # not a run folder of ours
        host, pid, _, renewed = found
        if not owner.owner_alive(host, pid, renewed):
            shutil.rmtree(folder, ignore_errors=True)
