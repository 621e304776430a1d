"""One computation per job across schedulers that share a store: sessions and claims.

Every run opens a session in the store (`sessions`: its id -> host, pid, heartbeat, the epoch it
has seen). While a run is alone on the store it claims nothing, so a lone fan-out pays nothing
for this. A session that opens moves the store's epoch and waits (at most ACK_WAIT s) until
every other live session has seen it. A run that sees the epoch move looks again: if another
live session is open, it is *claiming* from then on, and it first commits what it finished and
claims the jobs it is computing, then says it has seen the epoch. A claiming run's lookup
claims, in the write transaction that found no result, every key nobody else claims (`claims`:
eval hash -> session id); a key another live session claims comes back as CLAIMED, and the run
waits for that key's result (looking again every CLAIM_POLL s) rather than computing it. It
takes the job over once the claim's session is gone: closed, its pid dead on this host (or
another process's, started after the session's last heartbeat), or, on another host, no
heartbeat for SESSION_TTL s. Results and failures release their claims; a closing session
releases all of its own.
"""
import os
import pickle
import struct
import time
import uuid
from typing import Any, Dict, Iterable, Optional

from redun_fast.pids import HOST, owner_alive

ACK_WAIT = 10.0  # seconds a new session waits for the others to have seen it, at most
CLAIM_POLL = 0.1  # seconds between looks at the store's epoch and at awaited results
BEAT = 5.0  # seconds between a session's heartbeats
SESSION_TTL = 60.0  # a session on another host with no heartbeat for this long is gone
EPOCH_KEY = b"epoch"  # in `sessions`: the count of sessions opened and closed


class Claimed:
    """What a claiming lookup returns for a key another live session is computing."""

    def __repr__(self) -> str:
        return "CLAIMED"


CLAIMED = Claimed()


def read_epoch(txn: Any, sessions: Any) -> int:
    data = txn.get(EPOCH_KEY, None, sessions)
    return 0 if data is None else struct.unpack(">Q", data)[0]


def bump_epoch(txn: Any, sessions: Any) -> int:
    epoch = read_epoch(txn, sessions) + 1
    txn.put(EPOCH_KEY, struct.pack(">Q", epoch), db=sessions)
    return epoch


class Session:
    """This process's session in a store: its id, and whether it claims (see the module)."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().bytes
        self.seen_epoch = 0
        self.claiming = False
        self.mine: set = set()  # keys this session claims
        self.last_beat = 0.0

    def record(self, seen_epoch: int) -> bytes:
        return pickle.dumps((HOST, os.getpid(), time.time(), seen_epoch), protocol=5)

    def put(self, txn: Any, sessions: Any, seen_epoch: int) -> None:
        self.seen_epoch = seen_epoch
        self.last_beat = time.monotonic()
        txn.put(self.id, self.record(seen_epoch), db=sessions)

    def others(self, txn: Any, sessions: Any) -> Dict[bytes, tuple]:
        """The other live sessions, by id: (host, pid, heartbeat, seen epoch); dead ones are
        removed on the way (this must be a write transaction)."""
        found, dead = {}, []
        for key, data in txn.cursor(sessions):
            if key == EPOCH_KEY or key == self.id:
                continue
            record = load_session(data)
            if record is None or not live(record):
                dead.append(key)
            else:
                found[key] = record
        for key in dead:
            txn.delete(key, db=sessions)
        return found

    def claim(self, txn: Any, claims: Any, keys: Iterable[bytes]) -> None:
        rows = [(key, self.id) for key in keys]
        if rows:
            txn.cursor(claims).putmulti(rows)
            self.mine.update(key for key, _ in rows)

    def release(self, txn: Any, claims: Any, keys: Iterable[bytes]) -> None:
        """Drop this session's claims on `keys` (a claim another session took over stays)."""
        for key in keys:
            if key in self.mine:
                self.mine.discard(key)
                if txn.get(key, None, claims) == self.id:
                    txn.delete(key, db=claims)


def live(record: tuple) -> bool:
    host, pid, beat, _ = record
    return owner_alive(host, pid, beat, SESSION_TTL)


def load_session(data: Optional[bytes]) -> Optional[tuple]:
    """A session's record, or None if there is none or it is damaged."""
    if data is None:
        return None
    try:
        record = pickle.loads(data)
    except Exception:
        return None
    return record if isinstance(record, tuple) and len(record) == 4 else None


def owner_is_live(txn: Any, sessions: Any, owner: bytes, cache: Dict[bytes, bool]) -> bool:
    """Whether the session `owner` (a claim's value) is open and alive."""
    known = cache.get(owner)
    if known is None:
        record = load_session(txn.get(owner, None, sessions))
        known = cache[owner] = record is not None and live(record)
    return known
