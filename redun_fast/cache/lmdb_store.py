"""The persistent store: one LMDB environment (default `./.redun_fast/`), written in batches.

Named databases:
  results     eval hash (16 B) -> b"i" + pickled value (small: one put per job)
                                or b"h" + value hash (16 B)
  values      value hash (16 B) -> b"p" + pickled value, or b"z" + zlib(pickled value)
  executions  start time (8 B, big-endian us) + execution id (16 B) -> pickled record dict
  jobs        execution id (16 B) + batch number (4 B) -> a batch of job records (_records.pyx)
  pinned      execution id (16 B) + eval hash (16 B) -> b"": a running execution's results
              whose jobs have no record yet (they wait for the expressions they returned);
              removed when the execution ends, and kept from `prune` while it runs
  meta        b"schema" -> schema version
  sessions    session id (16 B) -> (host, pid, heartbeat, epoch seen) of each open run;
              b"epoch" -> sessions opened and closed (8 B): see cache/claims.py
  claims      eval hash (16 B) -> session id: the session computing that job
Only schedulers write, one transaction per tick; LMDB's writer lock makes two schedulers on
one store safe, and readers never block. While two runs use the store, each claims the jobs
it computes, so that the other waits for them (cache/claims.py). The map starts small and
doubles when full.
"""
import logging
import os
import pickle
import resource
import struct
import threading
import time
import uuid
import zlib
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import lmdb
import xxhash

from redun_fast._records import JobRecords
from redun_fast._records import decode as decode_records
from redun_fast.cache.base import CacheError, ResultStore
from redun_fast.cache.claims import (ACK_WAIT, BEAT, CLAIMED, Session, bump_epoch, live,
                                     load_session, owner_is_live, read_epoch)
from redun_fast.cache.records import ExecutionRecord, JobRecord
from redun_fast.private import check_private, make_private_dir

logger = logging.getLogger("redun_fast")
SCHEMA_VERSION = 1
INLINE_MAX = 1500  # bytes; larger results go to `values`, shared by equal results
COMPRESS_MIN = 16 * 1024  # bytes; larger values are zlib-compressed when that saves space
DEFAULT_MAP_SIZE = 1 << 30
_DATABASES = (b"results", b"values", b"executions", b"jobs", b"pinned", b"meta", b"sessions",
              b"claims")
_INLINE = ord("i")  # a results row that holds its pickle (else "h" + the value's hash)

# LMDB allows one open environment per file per process: stores on one path share it
# (a notebook that creates a second Scheduler on the same cache, say). path -> [env, users]
_open_envs: Dict[str, list] = {}
_open_envs_lock = threading.Lock()


def _acquire_env(path: str, map_size: int, sync: bool) -> "lmdb.Environment":
    with _open_envs_lock:
        entry = _open_envs.get(path)
        if entry is None:
            env = lmdb.open(path, map_size=map_size, max_dbs=len(_DATABASES), sync=sync,
                            metasync=sync, max_readers=256, mode=0o600)
            try:
                _check_complete(env, path)
            except CacheError:
                env.close()
                raise
            entry = _open_envs[path] = [env, 0]
        entry[1] += 1
        return entry[0]


def _check_complete(env: "lmdb.Environment", path: str) -> None:
    """Refuse a data file shorter than the pages its header refers to: reading those pages
    would kill the process with SIGBUS. (LMDB never shortens its file; a partial copy does.)"""
    needed = (env.info()["last_pgno"] + 1) * env.stat()["psize"]
    actual = os.path.getsize(os.path.join(path, "data.mdb"))
    if actual < needed:
        raise CacheError(
            f"the cache at {path} is truncated: data.mdb holds {actual:,} bytes of the "
            f"{needed:,} it refers to (a partial copy?); restore a complete copy, or remove the "
            "folder to start an empty cache")


def _release_env(path: str) -> None:
    with _open_envs_lock:
        entry = _open_envs.get(path)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            entry[0].close()
            del _open_envs[path]


class LmdbStore(ResultStore):
    """Results and run records in the LMDB environment at `path` (created if needed).

    sync=False trades durability against an OS crash (not a process crash) for faster commits.
    """

    def __init__(
        self, path: str, map_size: int = DEFAULT_MAP_SIZE, sync: bool = True, create: bool = True,
        shared: bool = False,
    ) -> None:
        """shared: the folder is shared with other users on purpose, so it is not refused for
        belonging to another user or being group-writable (see the README's Security)."""
        self.path = os.path.abspath(path)
        try:
            self.path.encode("utf-8")
        except UnicodeEncodeError:  # LMDB takes its path as UTF-8
            raise CacheError(f"the cache path {self.path!r} is not valid UTF-8, which LMDB "
                             "needs; choose another cache_dir / --cache-dir") from None
        if not create and not os.path.exists(os.path.join(self.path, "data.mdb")):
            raise CacheError(
                f"no cache at {self.path}: run a workflow first, or point --cache-dir (or "
                "$REDUN_FAST_CACHE_DIR) at an existing cache"
            )
        try:
            make_private_dir(self.path, "cache folder", shared)
            for name in ("data.mdb", "lock.mdb"):
                if os.path.exists(os.path.join(self.path, name)):
                    check_private(os.path.join(self.path, name), "cache file", shared)
            _check_writable(self.path)
            self.env = _acquire_env(self.path, map_size, sync)
            self._db = self._open_databases()
        except (lmdb.InvalidError, lmdb.VersionMismatchError, lmdb.CorruptedError) as error:
            raise CacheError(
                f"cannot open the cache at {self.path}: {error}. It must be a folder holding an "
                "LMDB store written by redun_fast (or not exist yet); move it away or choose "
                "another cache_dir / --cache-dir"
            ) from error
        except (OSError, lmdb.Error) as error:  # the store may be fine: never advise removing it
            raise CacheError(
                f"cannot open the cache at {self.path}: {error}; check its permissions and the "
                "free space on its filesystem, then run again"
            ) from error
        self._closed = False
        self._check_schema()
        self._batch = 0
        self._execution_key: Optional[bytes] = None
        self._session: Optional[Session] = None

    watched = True  # other processes may open it (cache/claims.py)

    def _open_databases(self) -> Dict[str, Any]:
        while True:
            try:
                return {name.decode(): self.env.open_db(name) for name in _DATABASES}
            except lmdb.MapResizedError:  # another process grew the map: adopt its size
                self.env.set_mapsize(0)

    # Writing.

    def _write(self, work) -> Any:
        """Run `work(txn)` in one write transaction, growing the map when it is full; return
        what it returns."""
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    return work(txn)
            except lmdb.MapFullError:
                self.env.set_mapsize(self.env.info()["map_size"] * 2)
            except lmdb.MapResizedError:  # another process grew the map: adopt its size
                self.env.set_mapsize(0)
            except lmdb.Error as error:
                raise CacheError(_write_failure(self.path, error)) from error

    def commit(
        self,
        results: Sequence[Tuple[bytes, bytes]] = (),
        jobs: Union[JobRecords, Sequence[tuple]] = (),
        execution: Optional[ExecutionRecord] = None,
        pinned: Sequence[bytes] = (),
        released: Sequence[bytes] = (),
    ) -> None:
        session = self._session if self._session is not None and self._session.mine else None
        if execution is not None:
            self._execution_key = _execution_key(execution)
        run_id = self._execution_key[8:] if self._execution_key else b""
        rows, values = [], []
        for key, data in results:
            if len(data) <= INLINE_MAX:
                rows.append((key, b"i" + data))
            else:
                value_hash = xxhash.xxh3_128_digest(data)
                rows.append((key, b"h" + value_hash))
                values.append((value_hash, _encode_value(data)))
        job_batch = None
        if jobs:
            self._batch += 1
            job_batch = (self._execution_key[8:] + struct.pack(">I", self._batch),
                         _as_records(jobs).encode())

        def work(txn):
            if rows:
                txn.cursor(self._db["results"]).putmulti(rows)
            if values:
                txn.cursor(self._db["values"]).putmulti(values, overwrite=False)
            if job_batch is not None:
                txn.put(*job_batch, db=self._db["jobs"])
            if pinned:
                txn.cursor(self._db["pinned"]).putmulti([(run_id + key, b"") for key in pinned])
            if session is not None:
                session.release(txn, self._db["claims"], [key for key, _ in results])
                session.release(txn, self._db["claims"], released)
            if execution is not None:
                txn.put(self._execution_key, pickle.dumps(execution.to_dict(), protocol=5),
                        db=self._db["executions"])
                if execution.state != "running":  # it ended: nothing of it needs pinning
                    _delete_where(txn.cursor(self._db["pinned"]), lambda key, _: key[:16] == run_id,
                                  start=run_id)

        self._write(work)

    # Reading.

    def _read(self):
        while True:
            try:
                return self.env.begin()
            except lmdb.MapResizedError:
                self.env.set_mapsize(0)

    def lookup(self, keys: Sequence[bytes], claim: bool = True) -> List[Any]:
        if claim and self.claiming:
            return self._write(lambda txn: self._lookup_claiming(txn, keys))
        with self._read() as txn:
            get, results = txn.get, self._db["results"]
            # One get per key (positional arguments): a third faster than cursor.getmulti,
            # which builds a (key, value) pair per key that would then be matched up again.
            rows = [get(key, None, results) for key in keys]
            return [row if row is None else row[1:] if row[0] == _INLINE
                    else self._stored_value(txn, row[1:]) for row in rows]

    def _lookup_claiming(self, txn, keys: Sequence[bytes]) -> List[Any]:
        """lookup, claiming each key no live session claims; CLAIMED for those one does."""
        session, claims, sessions = self._session, self._db["claims"], self._db["sessions"]
        get, results = txn.get, self._db["results"]
        found, to_claim, owners = [], [], {session.id: False}
        for key in keys:
            row = get(key, None, results)
            if row is not None:
                found.append(row[1:] if row[0] == _INLINE else self._stored_value(txn, row[1:]))
                continue
            owner = get(key, None, claims)
            if owner is not None and owner_is_live(txn, sessions, owner, owners):
                found.append(CLAIMED)
            else:
                to_claim.append(key)
                found.append(None)
        session.claim(txn, claims, to_claim)
        return found

    # Sessions and claims (cache/claims.py).

    @property
    def claiming(self) -> bool:
        return self._session is not None and self._session.claiming

    def open_session(self) -> None:
        session, sessions = Session(), self._db["sessions"]

        def work(txn):
            epoch = bump_epoch(txn, sessions)
            session.put(txn, sessions, epoch)
            others = session.others(txn, sessions)
            session.claiming = bool(others)
            return epoch, others

        self._session = session
        epoch, others = self._write(work)
        deadline = time.monotonic() + ACK_WAIT
        while others:  # each must claim what it computes now before this run looks anything up
            with self._read() as txn:
                records = {key: load_session(txn.get(key, None, sessions)) for key in others}
            late = {key: record for key, record in records.items()
                    if record is not None and record[3] < epoch and live(record)}
            if not late:
                return
            if time.monotonic() > deadline:
                host, pid = next(iter(late.values()))[:2]
                logger.warning("another scheduler on this cache (%s, pid %d) did not answer in "
                               "%.0f s: jobs it is running now may be computed here too",
                               host, pid, ACK_WAIT)
                return
            others = late
            time.sleep(0.02)

    def close_session(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return

        def work(txn):
            session.release(txn, self._db["claims"], list(session.mine))
            txn.delete(session.id, db=self._db["sessions"])
            bump_epoch(txn, self._db["sessions"])

        self._write(work)

    def joined(self) -> bool:
        session, sessions = self._session, self._db["sessions"]
        if session is None:
            return False
        with self._read() as txn:
            epoch = read_epoch(txn, sessions)
        if epoch != session.seen_epoch:
            return True
        if time.monotonic() - session.last_beat > BEAT:
            self._write(lambda txn: session.put(txn, sessions, session.seen_epoch))
        return False

    def claim_in_flight(self, keys: Sequence[bytes]) -> None:
        session, sessions = self._session, self._db["sessions"]

        def work(txn):
            session.claiming = bool(session.others(txn, sessions))
            if session.claiming:
                session.claim(txn, self._db["claims"], keys)
            session.put(txn, sessions, read_epoch(txn, sessions))

        self._write(work)

    def _stored_value(self, txn, value_hash: bytes) -> Any:
        return _decode_value(txn.get(value_hash, db=self._db["values"]), value_hash)

    def executions(self) -> List[ExecutionRecord]:
        with self._read() as txn:
            cursor = txn.cursor(self._db["executions"])
            loaded = [_load_record(data) for _, data in cursor]
        records = [ExecutionRecord.from_dict(data) for data in loaded if data is not None]
        if len(records) < len(loaded):
            logger.warning("%d damaged execution records in the cache at %s are skipped",
                           len(loaded) - len(records), self.path)
        return records[::-1]

    def job_records(self, execution_id: str) -> List[JobRecord]:
        prefix = uuid.UUID(execution_id).bytes
        with self._read() as txn:
            return [JobRecord(*job) for job in self._iter_jobs(txn, prefix)]

    def _iter_jobs(self, txn, prefix: bytes) -> Iterator[tuple]:
        cursor = txn.cursor(self._db["jobs"])
        if cursor.set_range(prefix):
            for key, batch in cursor:
                if not key.startswith(prefix):
                    break
                try:
                    records = decode_records(batch)
                except Exception as error:  # damaged: the others are still worth reading
                    logger.warning("a damaged batch of job records in the cache at %s is "
                                   "skipped (%s: %s)", self.path, type(error).__name__, error)
                    continue
                yield from records

    # Maintenance.

    def stats(self) -> Dict[str, int]:
        with self._read() as txn:
            counts = {name: txn.stat(self._db[name])["entries"] for name in ("results", "values")}
            runs = txn.stat(self._db["executions"])["entries"]
        return {**counts, "runs": runs,
                "bytes": os.path.getsize(os.path.join(self.path, "data.mdb"))}

    def clear(self) -> None:
        def work(txn):
            for name in ("results", "values", "executions", "jobs", "pinned", "claims"):
                txn.drop(self._db[name], delete=False)

        self._write(work)

    def prune(self, older_than: float) -> Dict[str, int]:
        cutoff = struct.pack(">Q", int(older_than * 1e6))
        removed = {"results": 0, "values": 0, "runs": 0}

        def work(txn):
            # What a live run wrote is never removed: its job records, however old it is, and
            # the results it pinned (their jobs have no record yet).
            used, old_runs, live = set(), [], set()
            for key, data in txn.cursor(self._db["executions"]):
                record = _load_record(data)  # a damaged one is no live run
                running = record is not None and (
                    ExecutionRecord.from_dict(record).shown_state == "running")
                if running:
                    live.add(key[8:])
                if key[:8] >= cutoff or running:
                    used.update(job[2] for job in self._iter_jobs(txn, key[8:]))
                else:
                    old_runs.append(key)
            used.update(key[16:] for key in txn.cursor(self._db["pinned"]).iternext(values=False)
                        if key[:16] in live)
            _delete_where(txn.cursor(self._db["pinned"]), lambda key, _: key[:16] not in live)
            removed["results"] = _delete_where(
                txn.cursor(self._db["results"]), lambda key, row: key not in used)
            live_values = {row[1:] for row in txn.cursor(self._db["results"]).iternext(keys=False)
                           if row[:1] == b"h"}
            removed["values"] = _delete_where(
                txn.cursor(self._db["values"]), lambda key, _: key not in live_values)
            for key in old_runs:
                txn.delete(key, db=self._db["executions"])
            old_ids = {key[8:] for key in old_runs}
            _delete_where(txn.cursor(self._db["jobs"]), lambda key, _: key[:16] in old_ids)
            removed["runs"] = len(old_runs)

        self._write(work)
        return removed

    def _check_schema(self) -> None:
        with self._read() as txn:
            stored = txn.get(b"schema", db=self._db["meta"])
        if stored is None:
            self._write(lambda txn: txn.put(b"schema", str(SCHEMA_VERSION).encode(),
                                            db=self._db["meta"]))
        elif int(stored) > SCHEMA_VERSION:
            raise CacheError(
                f"the cache at {self.path} was written by a newer redun_fast (schema "
                f"{int(stored)}, this one reads {SCHEMA_VERSION}); upgrade redun_fast or use "
                "another cache_dir"
            )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _release_env(self.path)


def _load_record(data: bytes) -> Optional[dict]:
    """An execution record as stored, or None if it is damaged."""
    try:
        record = pickle.loads(data)
    except Exception:
        return None
    return record if isinstance(record, dict) else None


def _execution_key(execution: ExecutionRecord) -> bytes:
    return struct.pack(">Q", int(execution.start * 1e6)) + uuid.UUID(execution.id).bytes


def _check_writable(path: str) -> None:
    """The scheduler writes every result: a cache it cannot write is an error up front."""
    for name in ("", "data.mdb", "lock.mdb"):
        target = os.path.join(path, name)
        if os.path.exists(target) and not os.access(target, os.W_OK):
            raise CacheError(
                f"the cache at {path} is read-only ({target} is not writable by this user, or "
                "its filesystem is mounted read-only); redun_fast must write there: fix its "
                "permissions, or choose another cache_dir / --cache-dir")


def _write_failure(path: str, error: Exception) -> str:
    text = str(error)
    if any(sign in text for sign in ("No space left", "File too large", "Disk quota")) or (
            "Input/output error" in text and _out_of_room(path)):  # LMDB's word for a short write
        return (f"cannot write the cache at {path}: {text}. The disk (or a file-size or quota "
                "limit) is full; results committed so far are intact and a rerun reuses them. "
                "Free some space (`redun_fast cache prune --older-than DAYS` helps) or choose "
                "another cache_dir / --cache-dir")
    return f"cannot write the cache at {path}: {text}"


def _out_of_room(path: str, margin: int = 16 << 20) -> bool:
    """Is the filesystem, or this process's file-size limit, within `margin` bytes of full?"""
    stat = os.statvfs(path)
    if stat.f_bavail * stat.f_frsize < margin:
        return True
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    size = os.path.getsize(os.path.join(path, "data.mdb"))
    return limit != resource.RLIM_INFINITY and size + margin > limit


def _encode_value(data: bytes) -> bytes:
    if len(data) >= COMPRESS_MIN:
        packed = zlib.compress(data, 3)
        if len(packed) < 0.9 * len(data):
            return b"z" + packed
    return b"p" + data


def _decode_value(stored: Optional[bytes], key: bytes) -> Any:
    """A value's pickle, or a CacheError if the entry is damaged (it is then computed again)."""
    if stored is None:
        return CacheError(f"the value {key.hex()[:16]} that a result refers to is missing")
    if stored[:1] == b"z":
        try:
            return zlib.decompress(stored[1:])
        except zlib.error as error:
            return CacheError(f"the stored value {key.hex()[:16]} is damaged ({error})")
    return stored[1:]


def _as_records(jobs: Union[JobRecords, Sequence[tuple]]) -> JobRecords:
    if isinstance(jobs, JobRecords):
        return jobs
    records = JobRecords()
    for job in jobs:
        records.append(job)
    return records


def _delete_where(cursor, should_delete, start: Optional[bytes] = None) -> int:
    """Delete the entries of `cursor`'s database for which should_delete(key, value) holds
    (from key `start` on, stopping at the first entry it keeps, if `start` is given)."""
    deleted = 0
    positioned = cursor.set_range(start) if start is not None else cursor.first()
    while positioned:
        if should_delete(cursor.key(), cursor.value()):
            cursor.delete()  # moves to the next entry, if any
            deleted += 1
            positioned = bool(cursor.key())
        elif start is not None:
            break
        else:
            positioned = cursor.next()
    return deleted
