"""The Slurm executor's arrays mode: ready jobs grouped by resources, packed into chunks, one
sbatch array each.

A background thread gathers submissions for `submit_delay` seconds, writes each group's
chunks into a staging folder on the shared filesystem and runs one `sbatch --array` per
group. Every `poll_interval` it collects the result files that elements wrote and asks
`squeue` once about all of its arrays; an element that left the queue without a result
fails its jobs (or resubmits them, with retries). Staging folders outlive a crashed
scheduler: the next one adopts the results and the still-running elements it finds there.
"""
import logging
import math
import os
import pickle
import re
import shutil
import sys
import threading
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence, Tuple

from redun_fast.errors import SecurityError, SlurmError
from redun_fast.executors.base import Outstanding, Deliver, thread_failed
from redun_fast.executors.protocol import definitions as task_definitions
from redun_fast.executors.protocol import (
    job_entries, load_results, to_results, unreadable_result)
from redun_fast.executors.shipping import pickling_problem, ship
from redun_fast.executors.slurm import owner
from redun_fast.executors.slurm import sbatch as slurm
from redun_fast.executors.slurm.executor import SlurmExecutor
from redun_fast.executors.slurm.options import sbatch_flags
from redun_fast.executors.slurm.sbatch import FAILED_STATES
from redun_fast.private import check_private, make_private_dir, write_private
from redun_fast.signing import new_key, read_key, read_signed, sign

logger = logging.getLogger("redun_fast")


class _Array:
    """One submitted array (or one found in the staging folder after a crash)."""

    def __init__(self, folder: str, slurm_id: str, elements: Dict[int, list], adopted: bool,
                 key: bytes):
        self.folder = folder
        self.key = key  # signs what its elements and the scheduler read (signing.py)
        self.slurm_id = slurm_id
        self.elements = elements  # index -> [job] still waiting for results
        self.adopted = adopted  # left by a scheduler that died
        self.submitted = time.time()


class ArraySlurmExecutor(SlurmExecutor):
    """SlurmExecutor(mode="arrays"): jobs run as elements of `sbatch --array` jobs (see
    SlurmExecutor for the arguments)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Condition()
        self._pending: List[Any] = []
        self._outstanding = Outstanding()  # every job submitted and not reported yet
        self._first_pending = 0.0
        self._arrays: Dict[str, _Array] = {}  # folder -> array
        self._orphans: Dict[bytes, Tuple[_Array, int]] = {}  # eval hash -> adoptable element
        self._attempts: Dict[bytes, int] = {}
        self._thread: Optional[threading.Thread] = None
        self._stopping = False
        self._lease = owner.Lease()

    # The scheduler's side.

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                if self._thread.is_alive() and not self._outstanding.failed:
                    return
                self._thread.join()  # it failed: it is ending
                self._forget()  # start afresh
            make_private_dir(self.staging_dir, "Slurm staging folder", self.shared)
            self._find_orphans()
            self._stopping = False
            self._outstanding = Outstanding()
            self._thread = threading.Thread(target=self._loop, name="redun_fast slurm",
                                            daemon=True)
            self._thread.start()

    def submit_batch(self, jobs: Sequence[Any], deliver: Deliver) -> None:
        self.start()
        if not self._outstanding.add(jobs, deliver):
            return
        with self._lock:
            if not self._pending:
                self._first_pending = time.monotonic()
            self._pending.extend(jobs)
            self._lock.notify()

    def stop(self) -> None:
        """Cancel this scheduler's arrays (Ctrl-C, close) and stop polling."""
        thread = self._thread
        if thread is None:
            return
        with self._lock:
            self._stopping = True
            self._lock.notify()
        thread.join()
        self._forget()

    def _forget(self) -> None:
        self._thread = None
        slurm.scancel(a.slurm_id for a in self._arrays.values() if a.elements and not a.adopted)
        self._arrays.clear()
        self._orphans.clear()
        self._pending = []

    # The background thread.

    def _loop(self) -> None:
        try:
            self._serve()
        except Exception as error:  # a bug here must not leave the run waiting forever
            self._outstanding.fail_all(thread_failed(self, error))  # error is their cause

    def _serve(self) -> None:
        last_poll = 0.0
        while True:
            with self._lock:
                if self._stopping:
                    return
                wait = self.poll_interval - (time.monotonic() - last_poll)
                if self._pending:
                    wait = min(wait, self.submit_delay - (time.monotonic() - self._first_pending))
                if wait > 0:
                    self._lock.wait(wait)
                if self._stopping:
                    return
                due = self._pending and (
                    time.monotonic() - self._first_pending >= self.submit_delay)
                pending = self._take_pending() if due else []
            if pending:
                self._submit(pending)
            if time.monotonic() - last_poll >= self.poll_interval:
                self._poll()
                last_poll = time.monotonic()
                self._lease.renew(last_poll, list(self._arrays))

    def _take_pending(self) -> List[Any]:
        pending, self._pending = self._pending, []
        return pending

    def _submit(self, jobs: List[Any], alone: bool = False) -> None:
        """Submit jobs grouped by resources; `alone`: one job per element (to find which of
        an element's jobs is at fault)."""
        groups: Dict[tuple, list] = {}
        for job in jobs:
            orphan = self._orphans.pop(job.eval_hash, None)
            if orphan is not None:  # a crashed scheduler's element computes (or computed) it
                array, index = orphan
                array.elements.setdefault(index, []).append(job)
                continue
            options = {**self.options, **job.task.task_options}
            self.note_requested(job.task, options)
            flags = sbatch_flags(options)  # checked: @task
            groups.setdefault(flags, []).append(job)
        for flags, group in groups.items():
            self._submit_array(flags, group, alone)

    def _submit_array(self, flags: tuple, items: list, alone: bool = False) -> None:
        # Functions first: a task that cannot travel fails its jobs and leaves the others.
        definitions, unshippable = [], set()
        for task in {job.task.hash: job.task for job in items}.values():
            try:
                definition = task_definitions([task])[0]
                ship(definition)
                definitions.append(definition)
            except Exception:
                unshippable.add(task.hash)
        if unshippable:
            items = [job for job in items
                     if job.task.hash not in unshippable or not self._fail_unshippable(job)]
        if not items:
            return
        per = 1 if alone else self.jobs_per_element or math.ceil(len(items) / self.max_elements)
        per = max(per, math.ceil(len(items) / self.max_array_size))
        folder = os.path.join(self.staging_dir, uuid.uuid4().hex[:12])
        os.makedirs(folder, mode=0o700)
        key = new_key(os.path.join(folder, "key"))
        elements: Dict[int, list] = {}
        for start in range(0, len(items), per):
            chunk = items[start:start + per]
            data = _ship_jobs(chunk)
            if data is None:  # find the argument that cannot travel, fail its job, send the rest
                chunk = [job for job in chunk if not self._fail_unshippable(job)]
                data = _ship_jobs(chunk) if chunk else None
            if data is None:
                continue
            index = len(elements)
            write_private(os.path.join(folder, f"chunk_{index}.pkl"), sign(key, data))
            elements[index] = chunk
        if not elements:
            shutil.rmtree(folder, ignore_errors=True)
            return
        write_private(os.path.join(folder, "tasks.pkl"), sign(key, pickle.dumps(
            (list(sys.path), ship(definitions)), protocol=5)))
        script = os.path.join(folder, "array.sbatch")
        with open(script, "w") as out:
            out.write(slurm.render_script(folder, len(elements), flags, self.parallelism,
                                          name=f"redun_fast-{os.path.basename(folder)}"))
        try:
            slurm_id = slurm.sbatch(script)
        except SlurmError as error:
            self._fail([job for chunk in elements.values() for job in chunk], error)
            shutil.rmtree(folder, ignore_errors=True)
            return
        owner.claim(folder, slurm_id)
        self.sbatch_calls += 1
        self.elements_submitted += len(elements)
        self.array_ids.append(slurm_id)
        self._arrays[folder] = _Array(folder, slurm_id, elements, adopted=False, key=key)

    def _poll(self) -> None:
        waiting = [a for a in self._arrays.values() if a.elements]
        for array in waiting:
            for index in list(array.elements):
                self._collect(array, index)
        waiting = [a for a in waiting if a.elements]
        if not waiting:
            return
        states = slurm.squeue(a.slurm_id for a in waiting)
        if states is None:  # the controller did not answer: judge nothing this time
            return
        for array in waiting:
            for index in list(array.elements):
                state = slurm.element_state(states, array.slurm_id, index)
                if state is not None and state not in FAILED_STATES and state != "COMPLETED":
                    continue  # pending or running
                if self._collect(array, index):
                    continue  # it finished just now
                if state is None and time.time() - array.submitted < 10 and not array.adopted:
                    continue  # just submitted: squeue may not list it yet
                self._element_failed(array, index, state)
            self._clean(array)

    def _collect(self, array: _Array, index: int) -> bool:
        """Ingest an element's result file if it is there."""
        path = os.path.join(array.folder, f"result_{index}.pkl")
        try:
            signed = read_signed(array.key, path)
        except FileNotFoundError:
            return False
        except SecurityError as error:  # never unpickled: its jobs fail, saying why
            signed, forged = None, error
        waiting = {job.eval_hash: job for job in array.elements.pop(index)}
        try:
            if signed is None:
                raise forged
            _, _, usage, payload = pickle.loads(signed)
            results = load_results(payload)
        except SecurityError as error:
            self._fail(list(waiting.values()), error)
        except Exception as error:  # a value this process cannot unpickle
            if len(waiting) > 1:  # run each alone: only the one at fault fails
                self._submit(list(waiting.values()), alone=True)
            else:
                self._outstanding.deliver([(job, False, unreadable_result(job.task.fullname,
                                                                          error))
                                           for job in waiting.values()])
        else:
            self._outstanding.deliver(to_results(results, waiting.get, usage))
        self._show_log(array, index)
        for name in (f"chunk_{index}.pkl", f"result_{index}.pkl", f"log_{index}.out"):
            _remove(os.path.join(array.folder, name))
        self._clean(array)
        return True

    def _element_failed(self, array: _Array, index: int, state: Optional[str]) -> None:
        items = array.elements.pop(index)
        how = slurm.explain(array.slurm_id, index) if state is not None else (
            "it left Slurm's queue: cancelled before it started, or purged by the controller")
        log = os.path.join(array.folder, f"log_{index}.out")
        error = SlurmError(
            f"Slurm array element {array.slurm_id}_{index} ended without results "
            f"({state or 'VANISHED'}: {how}); log {log}: {slurm.tail(log)}")
        again, failed = [], []
        for job in items:
            attempts = self._attempts.get(job.eval_hash, 0)
            allowed = job.task.get_option("retries", self.retries)
            if array.adopted or attempts < allowed:
                if not array.adopted:
                    self._attempts[job.eval_hash] = attempts + 1
                again.append(job)
            else:
                failed.append(job)
        self._fail(failed, error)
        _remove(os.path.join(array.folder, f"chunk_{index}.pkl"))
        if again:
            self._submit(again)

    def _fail(self, jobs: List[Any], error: Exception) -> None:
        self._outstanding.deliver([(job, False, error) for job in jobs])

    def _fail_unshippable(self, job: Any) -> bool:
        error = pickling_problem(job)
        if error is not None:
            self._fail([job], error)
        return error is not None

    def _clean(self, array: _Array) -> None:
        """Remove an array's folder once no chunk of it is left to run or to adopt."""
        if array.folder not in self._arrays:
            return  # already removed (its last element was collected during this poll)
        if array.elements or any(name.startswith("chunk_") for name in os.listdir(array.folder)):
            return
        logs = [name for name in os.listdir(array.folder) if name.startswith("log_")]
        if not logs:  # logs of failed elements stay for the user to read
            shutil.rmtree(array.folder, ignore_errors=True)
        self._arrays.pop(array.folder, None)

    def _show_log(self, array: _Array, index: int) -> None:
        """What the element's tasks printed goes to the scheduler's stdout."""
        try:
            with open(os.path.join(array.folder, f"log_{index}.out")) as log:
                text = log.read()
        except OSError:
            return
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()

    def _find_orphans(self) -> None:
        """Index the chunks that schedulers which died left in the staging folder.

        What is not ours (a stray file, a chunk that does not hold jobs) is left alone, and
        named in one warning.
        """
        strange = []
        for name in sorted(os.listdir(self.staging_dir)):
            folder = os.path.join(self.staging_dir, name)
            found = owner.read(folder)
            if found is None or len(found[2]) != 1:
                continue
            host, pid, (slurm_id,), renewed = found
            mine = host == owner.HOST and pid == os.getpid()  # left by this process's last run
            if owner.owner_alive(host, pid, renewed) and not mine:
                continue  # another scheduler is running it
            try:  # only what this user wrote, and signed
                check_private(folder, "Slurm staging folder")
                key = read_key(os.path.join(folder, "key"))
            except (OSError, SecurityError):
                strange.append(folder)
                continue
            owner.claim(folder, slurm_id)  # ours now: no other scheduler adopts it too
            array = _Array(folder, slurm_id, {}, adopted=True, key=key)
            for entry in sorted(os.listdir(folder)):
                match = _CHUNK_RE.match(entry)
                if match is None:
                    if not _STAGED_RE.match(entry):
                        strange.append(os.path.join(folder, entry))
                    continue
                jobs = _read_chunk(os.path.join(folder, entry), key)
                if jobs is None:
                    strange.append(os.path.join(folder, entry))
                    continue
                for eval_hash, *_ in jobs:
                    self._orphans[eval_hash] = (array, int(match.group(1)))
            self._arrays[folder] = array
        if strange:
            logger.warning("the Slurm staging folder %s holds files redun_fast did not write, "
                           "or cannot read; they are left alone: %s", self.staging_dir,
                           ", ".join(strange[:10]) + (" ..." if len(strange) > 10 else ""))


_CHUNK_RE = re.compile(r"^chunk_(\d+)\.pkl$")
# Everything else an array's folder holds (see _submit_array, _collect and worker.py).
_STAGED_RE = re.compile(
    r"^(result_\d+\.pkl(\.tmp)?|log_\d+\.out|tasks\.pkl|array\.sbatch|owner(\.tmp)?|key)$")


def _read_chunk(path: str, key: bytes) -> Optional[list]:
    """The jobs of a chunk (eval hash first), or None if it is not a chunk we wrote and
    signed."""
    try:
        jobs = pickle.loads(read_signed(key, path))
    except Exception:
        return None
    if not isinstance(jobs, list) or not all(
            isinstance(job, tuple) and len(job) == 4 and isinstance(job[0], bytes)
            for job in jobs):
        return None
    return jobs


def _ship_jobs(chunk: list) -> Optional[bytes]:
    """One element's jobs for the worker, or None if something in them cannot be pickled."""
    try:
        return ship(job_entries(chunk, [job.eval_hash for job in chunk]))  # keyed by eval hash
    except Exception:
        return None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
