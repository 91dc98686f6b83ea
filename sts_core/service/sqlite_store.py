"""The embedded state store: one SQLite file per scheduler, in WAL mode.

The engine calls a store synchronously on its event loop, so writes never touch the disk
there: they go to a buffer that a writer thread commits in one transaction every
``flush_interval`` seconds, or as soon as ``batch_size`` writes are waiting, or at once
when a run starts (so that a crash during the run finds it). A commit takes everything
buffered meanwhile, so under load commits group many writes. Buffered
writes are committed in the order they were made, a batch at a time, so the file always
holds a prefix of what the engine did: a finished run is never on disk without the job
state (next fire) saved before it. That is what keeps a completed fire from running again
after a crash; what a crash can lose is the last ``flush_interval`` of history.

Reads (``load_jobs``, ``history``) flush first, so they see every write made before them.
Other processes (``sts history`` while a scheduler runs) read the file concurrently:
WAL lets readers and one writer work at the same time.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..durations import Duration, parse_duration
from ..numbers import parse_whole_number
from ..records import Outcome, RunContext, RunRecord
from ..store import DEFAULT_FAILURE_HISTORY, DEFAULT_SUCCESS_HISTORY, JobState, is_failure

#: Bumped when the tables change; a file with a newer version is refused.
SCHEMA_VERSION = 1
DEFAULT_FLUSH_INTERVAL = 0.2
DEFAULT_BATCH_SIZE = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    next_fire TEXT,
    last_fire TEXT,
    paused INTEGER NOT NULL,
    schedule TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    job TEXT NOT NULL,
    fire_time TEXT NOT NULL,
    outcome TEXT NOT NULL,
    failed INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    traceback TEXT,
    retry_at TEXT,
    manual INTEGER NOT NULL,
    missed_count INTEGER NOT NULL,
    output TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job, failed, seq);
CREATE TABLE IF NOT EXISTS runs_in_flight (
    run_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    job TEXT NOT NULL,
    fire_time TEXT NOT NULL,
    started_at TEXT NOT NULL,
    manual INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    PRIMARY KEY (run_id, attempt)
);
"""

_RUN_COLUMNS = (
    "run_id, job, fire_time, outcome, failed, attempt, started_at, finished_at, error, "
    "traceback, retry_at, manual, missed_count, output"
)

# A buffered write: the SQL function to apply and its argument.
_Write = tuple[Callable[[sqlite3.Connection, Any], None], Any]


logger = logging.getLogger("sts")


class StateStoreError(Exception):
    """The state database cannot be opened or used; the message names the file."""


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class SQLiteStore:
    """Job state and bounded run history in a SQLite file.

    :param path: the database file; its directory is created when missing.
    :param success_history: runs kept per job that did not fail (succeeded, skipped,
        cancelled), newest first.
    :param failure_history: runs kept per job that failed (failed, timed out,
        interrupted, missed).
    :param flush_interval: at most how long a write waits in the buffer (seconds or a
        duration text); ``None`` writes only on ``flush()``, ``close()`` and a full batch.
    :param batch_size: how many buffered writes trigger a write at once.
    :raises StateStoreError: when the file is no SQLite database or is from a newer STS.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        success_history: int = DEFAULT_SUCCESS_HISTORY,
        failure_history: int = DEFAULT_FAILURE_HISTORY,
        flush_interval: Duration | None = DEFAULT_FLUSH_INTERVAL,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        for what, value in (
            ("success_history", success_history),
            ("failure_history", failure_history),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"invalid {what} {value!r}: expected a whole number >= 0")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"invalid batch_size {batch_size!r}: expected a whole number >= 1")
        self.path = Path(path)
        self.success_history = success_history
        self.failure_history = failure_history
        self.flush_interval = (
            None
            if flush_interval is None
            else parse_duration(flush_interval, what="flush_interval")
        )
        self.batch_size = batch_size
        self._pending: list[_Write] = []
        self._pending_lock = threading.Lock()
        # Held while the connection is in use: the writer thread and callers share it.
        self._db_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._connection = self._connect()
        self._writer: threading.Thread | None = None
        if self.flush_interval is not None:
            self._writer = threading.Thread(
                target=self._write_periodically, name=f"sts-store-{self.path.stem}", daemon=True
            )
            self._writer.start()

    # -- opening ----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StateStoreError(
                f"cannot create the directory of the state database {self.path}: {error}"
            ) from None
        try:
            # isolation_level=None: transactions are begun explicitly, one per batch.
            connection = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            # NORMAL in WAL mode survives a killed process; only power loss can drop the
            # last commits, which is the trade for not syncing on every batch.
            connection.execute("PRAGMA synchronous=NORMAL")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                connection.close()
                raise StateStoreError(
                    f"the state database {self.path} has schema version {version}, newer than "
                    f"this STS understands ({SCHEMA_VERSION}): upgrade STS or use another file"
                )
            if version < SCHEMA_VERSION:  # a reader of an existing file writes nothing
                connection.executescript(_SCHEMA)
                connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as error:
            raise StateStoreError(
                f"cannot use the state database {self.path}: {error}. Move the file away to "
                f"start with empty state"
            ) from None
        if str(mode).lower() != "wal":
            connection.close()
            raise StateStoreError(
                f"the state database {self.path} cannot use WAL mode (journal mode is "
                f"{mode!r}); put it on a local file system"
            )
        return connection

    # -- writes: buffered -------------------------------------------------------------------

    def _buffer(self, write: _Write, *, urgent: bool = False) -> None:
        if self._closed:
            raise StateStoreError(f"the state database {self.path} is closed")
        with self._pending_lock:
            self._pending.append(write)
            full = urgent or len(self._pending) >= self.batch_size
        if full:
            if self._writer is None:
                self.flush()
            else:
                self._wake.set()

    def save_job(self, state: JobState) -> None:
        self._buffer((_save_job, state))

    def remove_job(self, name: str) -> None:
        self._buffer((_remove_job, name))

    def run_started(self, run: RunContext) -> None:
        # Urgent: the writer commits it (and the job state buffered before it) at once, so
        # a crash moments into a run still leaves the run to be found as interrupted.
        self._buffer((_run_started, (run, os.getpid())), urgent=self._writer is not None)

    def record_run(self, record: RunRecord) -> None:
        self._buffer((_record_run, record))

    def flush(self) -> None:
        """Commit every buffered write, in one transaction."""
        with self._db_lock:
            with self._pending_lock:
                batch, self._pending = self._pending, []
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[_Write]) -> None:
        connection = self._connection
        touched: set[str] = set()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                for apply, argument in batch:
                    apply(connection, argument)
                    if apply is _record_run:
                        touched.add(argument.job)
                for job in touched:
                    self._prune(job)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            raise StateStoreError(f"cannot write the state database {self.path}: {error}") from None

    def _prune(self, job: str) -> None:
        for failed, keep in ((0, self.success_history), (1, self.failure_history)):
            self._connection.execute(
                "DELETE FROM runs WHERE job = ? AND failed = ? AND seq NOT IN "
                "(SELECT seq FROM runs WHERE job = ? AND failed = ? ORDER BY seq DESC LIMIT ?)",
                (job, failed, job, failed, keep),
            )

    def _write_periodically(self) -> None:
        assert self.flush_interval is not None
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._closed:
                return
            try:
                self.flush()
            except StateStoreError as error:
                # A batch that failed is not retried (the file is likely unusable), so the
                # loss is said out loud rather than raised in a thread nobody joins.
                logger.error("%s; the batch of writes is lost", error)

    # -- reads ------------------------------------------------------------------------------

    def _query(self, sql: str, parameters: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        self.flush()
        with self._db_lock:
            try:
                return self._connection.execute(sql, tuple(parameters)).fetchall()
            except sqlite3.Error as error:
                raise StateStoreError(
                    f"cannot read the state database {self.path}: {error}"
                ) from None

    def load_jobs(self) -> dict[str, JobState]:
        rows = self._query("SELECT name, next_fire, last_fire, paused, schedule FROM jobs")
        return {
            name: JobState(name, _moment(next_fire), _moment(last_fire), bool(paused), schedule)
            for name, next_fire, last_fire, paused, schedule in rows
        }

    def history(
        self, job: str | None = None, *, limit: int = 50, failed_only: bool = False
    ) -> list[RunRecord]:
        conditions, parameters = [], []
        if job is not None:
            conditions.append("job = ?")
            parameters.append(job)
        if failed_only:
            conditions.append("failed = 1")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs{where} ORDER BY seq DESC LIMIT ?",
            [*parameters, limit],
        )
        return [_record_from_row(row) for row in rows]

    def runs_in_flight(self) -> list[tuple[RunContext, int]]:
        """Attempts started and not finished, with the id of the process that started each."""
        rows = self._query(
            "SELECT run_id, job, fire_time, attempt, started_at, manual, pid FROM runs_in_flight "
            "ORDER BY started_at"
        )
        return [
            (RunContext(run_id, job, _must(fire), attempt, _must(started), bool(manual)), pid)
            for run_id, job, fire, attempt, started, manual, pid in rows
        ]

    def recover_interrupted(self) -> list[RunRecord]:
        """Turn runs left in flight by a previous process into ``interrupted`` records.

        Call it once, when a scheduler starts on this file, before it runs anything.
        """
        found = datetime.now(UTC).isoformat(timespec="seconds")
        records = [
            RunRecord(
                run_id=run.run_id,
                job=run.job,
                fire_time=run.fire_time,
                outcome=Outcome.INTERRUPTED,
                attempt=run.attempt,
                started_at=run.started_at,
                error=(
                    f"interrupted: the process running it (pid {pid}) stopped before the run "
                    f"finished; found at the next start, {found}"
                ),
                manual=run.manual,
            )
            for run, pid in self.runs_in_flight()
        ]
        if records:
            with self._db_lock:
                self._commit([(_record_run, record) for record in records])
        return records

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``: ``["ok"]`` for a sound file."""
        return [str(row[0]) for row in self._query("PRAGMA integrity_check")]

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Flush, stop the writer thread and close the file. Closing twice is a no-op."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._writer is not None:
            self._writer.join()
        self.flush()
        with self._db_lock:
            self._connection.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SQLiteStore {str(self.path)!r}>"


def _must(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- the writes, applied inside a batch's transaction ------------------------------------------


def _save_job(connection: sqlite3.Connection, state: JobState) -> None:
    connection.execute(
        "INSERT OR REPLACE INTO jobs (name, next_fire, last_fire, paused, schedule) "
        "VALUES (?, ?, ?, ?, ?)",
        (
            state.name,
            _text(state.next_fire),
            _text(state.last_fire),
            int(state.paused),
            state.schedule,
        ),
    )


def _remove_job(connection: sqlite3.Connection, name: str) -> None:
    connection.execute("DELETE FROM jobs WHERE name = ?", (name,))
    connection.execute("DELETE FROM runs WHERE job = ?", (name,))
    connection.execute("DELETE FROM runs_in_flight WHERE job = ?", (name,))


def _run_started(connection: sqlite3.Connection, started: tuple[RunContext, int]) -> None:
    run, pid = started
    connection.execute(
        "INSERT OR REPLACE INTO runs_in_flight "
        "(run_id, attempt, job, fire_time, started_at, manual, pid) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            run.run_id,
            run.attempt,
            run.job,
            run.fire_time.isoformat(),
            run.started_at.isoformat(),
            int(run.manual),
            pid,
        ),
    )


def _record_run(connection: sqlite3.Connection, record: RunRecord) -> None:
    connection.execute(
        "DELETE FROM runs_in_flight WHERE run_id = ? AND attempt = ?",
        (record.run_id, record.attempt),
    )
    connection.execute(
        f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.run_id,
            record.job,
            record.fire_time.isoformat(),
            str(record.outcome),
            int(is_failure(record.outcome)),
            record.attempt,
            _text(record.started_at),
            _text(record.finished_at),
            record.error,
            record.traceback,
            _text(record.retry_at),
            int(record.manual),
            record.missed_count,
            json.dumps(record.output) if record.output else None,
        ),
    )


def _record_from_row(row: tuple[Any, ...]) -> RunRecord:
    (
        run_id,
        job,
        fire_time,
        outcome,
        _failed,
        attempt,
        started_at,
        finished_at,
        error,
        traceback,
        retry_at,
        manual,
        missed_count,
        output,
    ) = row
    return RunRecord(
        run_id=run_id,
        job=job,
        fire_time=_must(fire_time),
        outcome=Outcome(outcome),
        attempt=attempt,
        started_at=_moment(started_at),
        finished_at=_moment(finished_at),
        error=error,
        traceback=traceback,
        retry_at=_moment(retry_at),
        manual=bool(manual),
        missed_count=missed_count,
        output=json.loads(output) if output else {},
    )


def open_sqlite_store(
    scheduler_name: str,
    *,
    path: str | os.PathLike[str] | None = None,
    success_history: int | str = DEFAULT_SUCCESS_HISTORY,
    failure_history: int | str = DEFAULT_FAILURE_HISTORY,
    flush_interval: Duration | None = DEFAULT_FLUSH_INTERVAL,
) -> SQLiteStore:
    """The ``sqlite`` state store's factory: options may be text, as a config file gives them.

    :param path: the file; ``<user data dir>/sts/<scheduler name>.db`` by default.
    """
    if path is None or (isinstance(path, str) and not path.strip()):
        from .paths import state_database

        path = state_database(scheduler_name)
    return SQLiteStore(
        Path(path).expanduser(),
        success_history=parse_whole_number(success_history, what="success_history"),
        failure_history=parse_whole_number(failure_history, what="failure_history"),
        flush_interval=flush_interval,
    )
