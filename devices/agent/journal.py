"""The agent's durable journal: print jobs and the acknowledgements the hub has not confirmed yet.

One SQLite file (``state_dir/agent.sqlite3``, WAL, ``synchronous=FULL`` so a commit survives a power cut)
holds the rules that make printing exactly-once across reconnects and restarts:

* a ``print`` directive for a job already known is never queued again; if the job is finished its ack
  is queued again (the hub asks because it missed it);
* a job becomes ``sending`` (committed) *before* its bytes go to the printer and ``printed`` right after
  the transport returns, with its ack queued in the same transaction;
* at start, a job still ``sending`` may or may not have printed: it becomes ``failed`` with a reason that
  sends the shopkeeper to the paper, and is never printed again automatically;
* an ack leaves the outbox only when the hub replies to it, so unconfirmed acks survive restarts and are
  sent again after every reconnect (the hub takes repeats idempotently). The outbox keeps one ack per
  job, the newest: a ``printed`` ack replaces an unconfirmed ``held`` one.

Every method is a short transaction behind one lock, so callers may run them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import enum
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Literal

import msgspec

from schema.messages.devices import PrintAck, PrintDirective

__all__ = ["MAYBE_PRINTED_REASON", "AckRow", "Job", "Journal", "Offer"]

JobState = Literal["pending", "sending", "printed", "failed"]

MAYBE_PRINTED_REASON = "el agente se detuvo mientras imprimía: revise el papel y reimprima si falta"
KEEP_SECONDS = 7 * 24 * 3600
KEEP_JOBS = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS job (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order: a printer prints in this order
    job_id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'printed', 'failed')),
    reason TEXT NOT NULL DEFAULT '',
    received_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS job_queue ON job (device_id, state, seq);
CREATE TABLE IF NOT EXISTS ack (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- a new row per (re)queued ack: a reply confirms one row
    job_id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('printed', 'held', 'failed')),
    reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
"""


class Offer(enum.Enum):
    """What :meth:`Journal.offer` did with a directive."""

    QUEUED = "queued"  # new job, pending
    IN_QUEUE = "in_queue"  # already pending or being printed: nothing to do
    FINISHED = "finished"  # already printed or failed: its ack is queued again


class Job(msgspec.Struct, frozen=True, kw_only=True):
    job_id: uuid.UUID
    device_id: uuid.UUID
    kind: str
    data: bytes
    state: JobState
    reason: str = ""


class AckRow(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    ack: PrintAck


class Journal:
    """The journal on disk. Open with :meth:`open`; call :meth:`recover` once before printing."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, state_dir: Path) -> Journal:
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / "agent.sqlite3"
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE), so each method is one commit.
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        return cls(db, path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    # -- jobs ------------------------------------------------------------------------------------------

    def offer(self, directive: PrintDirective, now: float | None = None) -> Offer:
        job_id = str(directive.job_id)
        with self._tx() as db:
            row = db.execute(
                "SELECT state, reason, device_id FROM job WHERE job_id = ?", (job_id,)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO job (job_id, device_id, kind, data, state, received_at)"
                    " VALUES (?, ?, ?, ?, 'pending', ?)",
                    (job_id, str(directive.device_id), directive.kind, directive.data, now or time.time()),
                )
                return Offer.QUEUED
            state, reason, device_id = row
            if state in ("pending", "sending"):
                return Offer.IN_QUEUE
            _queue_ack(db, device_id, job_id, state, reason)
            return Offer.FINISHED

    def next_pending(self, device_id: uuid.UUID) -> Job | None:
        jobs = self.pending(device_id, limit=1)
        return jobs[0] if jobs else None

    def pending(self, device_id: uuid.UUID, limit: int = 1000) -> list[Job]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT job_id, device_id, kind, data, state, reason FROM job"
                " WHERE device_id = ? AND state = 'pending' ORDER BY seq LIMIT ?",
                (str(device_id), limit),
            ).fetchall()
        return [_job(row) for row in rows]

    def pending_ids(self, device_id: uuid.UUID) -> list[uuid.UUID]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT job_id FROM job WHERE device_id = ? AND state = 'pending' ORDER BY seq",
                (str(device_id),),
            ).fetchall()
        return [uuid.UUID(row[0]) for row in rows]

    def job(self, job_id: uuid.UUID) -> Job | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT job_id, device_id, kind, data, state, reason FROM job WHERE job_id = ?",
                (str(job_id),),
            ).fetchone()
        return None if row is None else _job(row)

    def mark_sending(self, job_id: uuid.UUID) -> bool:
        """Claim a pending job for the printer; False when it is no longer pending."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE job SET state = 'sending' WHERE job_id = ? AND state = 'pending'", (str(job_id),)
            )
            return cursor.rowcount == 1

    def unsend(self, job_id: uuid.UUID) -> None:
        """Back to pending: only when the transport proved no byte reached the printer."""
        with self._tx() as db:
            db.execute(
                "UPDATE job SET state = 'pending' WHERE job_id = ? AND state = 'sending'", (str(job_id),)
            )

    def mark_printed(self, job_id: uuid.UUID) -> None:
        self._finish(job_id, "printed", "")

    def mark_failed(self, job_id: uuid.UUID, reason: str) -> None:
        self._finish(job_id, "failed", reason)

    def _finish(self, job_id: uuid.UUID, state: JobState, reason: str) -> None:
        with self._tx() as db:
            row = db.execute(
                "SELECT device_id FROM job WHERE job_id = ? AND state IN ('pending', 'sending')",
                (str(job_id),),
            ).fetchone()
            if row is None:
                return
            # The bytes are no longer needed once the job is final; the row stays to refuse repeats.
            db.execute(
                "UPDATE job SET state = ?, reason = ?, data = x'', finished_at = ? WHERE job_id = ?",
                (state, reason, time.time(), str(job_id)),
            )
            _queue_ack(db, row[0], str(job_id), state, reason)

    def recover(self) -> list[Job]:
        """At start: every job left ``sending`` maybe printed; fail it (acked) rather than print it twice."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT job_id, device_id, kind, data, state, reason FROM job WHERE state = 'sending'"
            ).fetchall()
            for row in rows:
                db.execute(
                    "UPDATE job SET state = 'failed', reason = ?, data = x'', finished_at = ?"
                    " WHERE job_id = ?",
                    (MAYBE_PRINTED_REASON, time.time(), row[0]),
                )
                _queue_ack(db, row[1], row[0], "failed", MAYBE_PRINTED_REASON)
        return [_job(row) for row in rows]

    # -- ack outbox ------------------------------------------------------------------------------------

    def queue_held(self, device_id: uuid.UUID, job_ids: list[uuid.UUID], reason: str) -> list[uuid.UUID]:
        """Queue ``held`` acks for those of ``job_ids`` still pending (one commit); returns them."""
        held: list[uuid.UUID] = []
        with self._tx() as db:
            for job_id in job_ids:
                row = db.execute("SELECT state FROM job WHERE job_id = ?", (str(job_id),)).fetchone()
                if row is not None and row[0] == "pending":
                    _queue_ack(db, str(device_id), str(job_id), "held", reason)
                    held.append(job_id)
        return held

    def queue_failed(self, directive: PrintDirective, reason: str) -> None:
        """Record a job that can never print (its printer is not ours) as failed, acked like any other."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO job (job_id, device_id, kind, data, state, reason, received_at,"
                " finished_at) VALUES (?, ?, ?, x'', 'failed', ?, ?, ?)",
                (
                    str(directive.job_id),
                    str(directive.device_id),
                    directive.kind,
                    reason,
                    time.time(),
                    time.time(),
                ),
            )
            state, stored_reason = db.execute(
                "SELECT state, reason FROM job WHERE job_id = ?", (str(directive.job_id),)
            ).fetchone()
            if state in ("printed", "failed"):
                _queue_ack(db, str(directive.device_id), str(directive.job_id), state, stored_reason)

    def unconfirmed(self) -> list[AckRow]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT seq, job_id, device_id, outcome, reason FROM ack ORDER BY seq"
            ).fetchall()
        return [
            AckRow(
                seq=seq,
                ack=PrintAck(
                    job_id=uuid.UUID(job_id), device_id=uuid.UUID(device_id), outcome=outcome, reason=reason
                ),
            )
            for seq, job_id, device_id, outcome, reason in rows
        ]

    def confirm(self, seq: int) -> None:
        """The hub replied to this ack. A newer ack for the same job (another seq) stays queued."""
        with self._tx() as db:
            db.execute("DELETE FROM ack WHERE seq = ?", (seq,))

    # -- housekeeping ----------------------------------------------------------------------------------

    def prune(
        self, now: float | None = None, keep_seconds: float = KEEP_SECONDS, keep_jobs: int = KEEP_JOBS
    ) -> int:
        """Forget finished jobs that are old or beyond the newest ``keep_jobs``, once the hub has their ack.

        A job whose ack is unconfirmed is kept: the hub may still send its directive again, and only the
        row stops it from being printed twice.
        """
        cutoff = (now or time.time()) - keep_seconds
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM job WHERE state IN ('printed', 'failed')"
                " AND job_id NOT IN (SELECT job_id FROM ack)"
                " AND (finished_at < ? OR seq <= (SELECT COALESCE(MAX(seq), 0) FROM job) - ?)",
                (cutoff, keep_jobs),
            )
            return cursor.rowcount

    def counts(self) -> dict[str, int]:
        with self._tx() as db:
            rows = db.execute("SELECT state, COUNT(*) FROM job GROUP BY state").fetchall()
            acks = db.execute("SELECT COUNT(*) FROM ack").fetchone()[0]
        return {**{state: count for state, count in rows}, "acks": acks}


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK``) under the journal's thread lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._lock.release()


def _queue_ack(db: sqlite3.Connection, device_id: str, job_id: str, outcome: str, reason: str) -> None:
    # REPLACE gives the row a new seq: a reply to the ack it replaces can no longer delete this one.
    db.execute(
        "INSERT OR REPLACE INTO ack (job_id, device_id, outcome, reason, created_at) VALUES (?, ?, ?, ?, ?)",
        (job_id, device_id, outcome, reason[:200], time.time()),
    )


def _job(row: tuple[str, str, str, bytes, JobState, str]) -> Job:
    job_id, device_id, kind, data, state, reason = row
    return Job(
        job_id=uuid.UUID(job_id),
        device_id=uuid.UUID(device_id),
        kind=kind,
        data=bytes(data),
        state=state,
        reason=reason,
    )
