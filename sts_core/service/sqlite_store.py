"""The embedded state store: one SQLite file per scheduler, in WAL mode.

The engine calls a store synchronously on its event loop, so writes never touch the disk
there: they go to a buffer that a writer thread commits in one transaction every
``flush_interval`` seconds, or as soon as ``batch_size`` writes are waiting, or as soon as
a run waits for its fire to be durable (:meth:`SQLiteStore.committed`). A commit takes
everything buffered meanwhile, so the runs started together by one burst of fires share
one commit. Buffered writes are committed in the order they were made, a batch at a time,
and a batch that fails is kept and retried ahead of later writes, so the file always
holds a prefix of what the engine did.

A run's task starts only once its fire's next-fire state and its own start are committed:
so a completed fire never runs again after a crash, and a run a crash cuts short is found
at the next start and recorded as ``interrupted``. What a crash can lose is the last
``flush_interval`` of finished records.

The event loop never waits on the file: reads (``history``) from the control socket run on
a thread, on a connection of their own, after waiting (at most ``read_timeout``) for the
writer to commit what is buffered. One scheduler writes a file at a time: :meth:`acquire`
takes an OS lock on ``<file>.lock``. A file deleted or replaced while the scheduler runs
is noticed (its inode changes) and the current state of every job is written again into
a new file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shlex
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from ..booleans import parse_boolean
from ..durations import Duration, parse_duration
from ..numbers import parse_whole_number
from ..records import Outcome, RunContext, RunRecord
from ..store import (
    DEFAULT_FAILURE_HISTORY,
    DEFAULT_SUCCESS_HISTORY,
    JobState,
    WriteRetries,
    is_failure,
)
from .file_lock import ExclusiveLock, LockHeld
from .paths import state_database

#: Bumped when the tables change; a file with a newer version is refused.
SCHEMA_VERSION = 2
DEFAULT_FLUSH_INTERVAL = 0.2
DEFAULT_BATCH_SIZE = 200
#: How long a read waits for buffered writes to be committed before it reads without them.
DEFAULT_READ_TIMEOUT = 2.0
#: How long SQLite waits for another process's lock on the file before a commit fails.
BUSY_TIMEOUT = 10.0
#: How long an open that met another process's lock waits before trying again.
OPEN_RETRY_INTERVAL = 0.02

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    next_fire TEXT,
    last_fire TEXT,
    paused INTEGER NOT NULL,
    schedule TEXT NOT NULL,
    paused_reason TEXT
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


def _upgrade(connection: sqlite3.Connection) -> None:
    """Bring the file to ``SCHEMA_VERSION``, in one transaction: a new file gets the
    tables, an older one the columns added since (of two processes opening it at once, the
    second finds it done)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        if connection.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                connection.execute(statement)  # IF NOT EXISTS: a no-op where they exist
            columns = {row[1] for row in connection.execute("PRAGMA table_info(jobs)")}
            if "paused_reason" not in columns:  # version 2: why STS set a job aside
                connection.execute("ALTER TABLE jobs ADD COLUMN paused_reason TEXT")
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


_RUN_COLUMNS = (
    "run_id, job, fire_time, outcome, failed, attempt, started_at, finished_at, error, "
    "traceback, retry_at, manual, missed_count, output"
)

# A buffered write: the function that applies writes of its kind, and its argument.
_Write = tuple[Callable[[sqlite3.Connection, list[Any]], None], Any]


logger = logging.getLogger("sts")


class StateStoreError(Exception):
    """The state database cannot be opened or used; the message names the file."""


class StoreInUseError(StateStoreError):
    """Another scheduler writes the state database; the message names it (pid, host)."""


class _Commit:
    """The commit of one batch, which runs (on the loop) and reads (on threads) wait for.

    It is finished when the batch is committed, or has failed (the failure is logged and
    the batch kept for the next try: nobody waits on a broken disk).
    """

    __slots__ = ("finished", "future")

    def __init__(self) -> None:
        self.finished = threading.Event()
        #: Made on the event loop by the first run that waits; set from the writer thread.
        self.future: asyncio.Future[None] | None = None


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _describe(error: sqlite3.Error) -> str:
    """SQLite's message and its result code: ``database or disk is full (SQLITE_FULL)``."""
    code = getattr(error, "sqlite_errorname", None)
    return f"{error} ({code})" if code else str(error)


def _is_busy(error: Exception) -> bool:
    """Whether SQLite refused a lock another connection holds (SQLITE_BUSY or an extended
    code of it)."""
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return (stat.st_dev, stat.st_ino)


class SQLiteStore:
    """Job state and bounded run history in a SQLite file.

    :param path: the database file; its directory is created (0700) when missing, the
        file itself 0600.
    :param success_history: runs kept per job that did not fail (succeeded, skipped,
        cancelled), newest first.
    :param failure_history: runs kept per job that failed (failed, timed out,
        interrupted, missed).
    :param flush_interval: at most how long a write waits in the buffer (seconds or a
        duration text); ``None`` writes only on ``flush()``, ``close()``, a full batch or
        a run's start, on the caller's thread (no writer thread).
    :param batch_size: how many buffered writes trigger a write at once.
    :param read_timeout: at most how long a read waits for buffered writes to be
        committed (seconds or a duration text); then it reads what is on disk.
    :param commit_before_run: whether a run's task waits until its fire's state is
        committed (:meth:`committed`); ``False`` starts runs at once, about twice the
        runs per second in a burst, but a crash may then run a completed fire again.
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
        read_timeout: Duration = DEFAULT_READ_TIMEOUT,
        commit_before_run: bool = True,
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
        self.read_timeout = parse_duration(read_timeout, what="read_timeout")
        self.commit_before_run = commit_before_run
        self._pending: list[_Write] = []
        # The commit that will carry ``_pending``, and the one under way: what waiters hold.
        self._pending_commit: _Commit | None = None
        self._running_commit: _Commit | None = None
        self._pending_lock = threading.Lock()
        self._outdated = False
        # Held while the writing connection is in use: the writer thread and callers share it.
        self._db_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._closed = False
        self._retries = WriteRetries(self.flush_interval or 0.0, self.path, logger)
        # What every job and run in flight is now, as plain tuples (not tracked by the
        # garbage collector): written again into a new file if this one is deleted.
        self._jobs_now: dict[str, tuple[Any, ...]] = {}
        self._in_flight_now: dict[tuple[str, int], tuple[RunContext, int]] = {}
        self._writer_lock = ExclusiveLock(Path(f"{self.path}.lock"))
        self._file: tuple[int, int] = (0, 0)
        # Writes that put the state back into a new file, until they are committed.
        self._rescued: list[_Write] = []
        self._connection = self._connect()
        self._reader: sqlite3.Connection | None = None
        self._reader_file: tuple[int, int] = (0, 0)
        self._writer: threading.Thread | None = None
        if self.flush_interval is not None:
            self._writer = threading.Thread(
                target=self._write_periodically, name=f"sts-store-{self.path.stem}", daemon=True
            )
            self._writer.start()

    # -- opening ----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Made 0600 before SQLite opens it: SQLite gives the -wal and -shm files the
            # mode of the database file, and run history may quote what a job printed.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        except FileExistsError:
            pass
        except OSError as error:
            raise StateStoreError(
                f"cannot create the state database {self.path}: {error}"
            ) from None
        # Two processes opening a new file at once both ask for WAL mode, which takes the
        # file's exclusive lock; SQLite answers one of them SQLITE_BUSY at once, without its
        # busy handler (waiting could deadlock), so that open is tried again here. Each try
        # waits on a lock at most what is left of BUSY_TIMEOUT, so the whole open does too.
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                connection, mode = self._open_connection(max(deadline - time.monotonic(), 0.0))
                break
            except (sqlite3.DatabaseError, OSError) as error:
                busy = _is_busy(error)
                if busy and time.monotonic() < deadline:
                    time.sleep(OPEN_RETRY_INTERVAL)
                    continue
                described = _describe(error) if isinstance(error, sqlite3.Error) else str(error)
                if busy:  # another process holds it: moving the file would lose its state
                    raise StateStoreError(
                        f"cannot use the state database {self.path}: another process kept it "
                        f"locked for {BUSY_TIMEOUT:g}s ({described}); find it with "
                        f"'fuser {shlex.quote(str(self.path))}'"
                    ) from None
                raise StateStoreError(
                    f"cannot use the state database {self.path}: {described}. Move the file "
                    f"away to start with empty state"
                ) from None
        if str(mode).lower() != "wal":
            connection.close()
            raise StateStoreError(
                f"the state database {self.path} cannot use WAL mode (journal mode is "
                f"{mode!r}); put it on a local file system"
            )
        return connection

    def _open_connection(self, wait: float) -> tuple[sqlite3.Connection, str]:
        """A connection in WAL mode with this schema, and the journal mode SQLite gave;
        waiting at most ``wait`` seconds on another process's lock while it opens."""
        # isolation_level=None: transactions are begun explicitly, one per batch.
        connection = sqlite3.connect(
            self.path, timeout=wait, isolation_level=None, check_same_thread=False
        )
        try:
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            # NORMAL in WAL mode survives a killed process; only power loss can drop the
            # last commits, which is the trade for not syncing on every batch.
            connection.execute("PRAGMA synchronous=NORMAL")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StateStoreError(
                    f"the state database {self.path} has schema version {version}, newer than "
                    f"this STS understands ({SCHEMA_VERSION}): upgrade STS or use another file"
                )
            if version == 0:  # a new file: its tables (two processes may both get here;
                _upgrade(connection)  # _upgrade checks the version under its lock)
            # An older file is upgraded by its first write, not by a reader: `sts history`
            # of a newer STS must not make the file unreadable to the older STS running.
            self._outdated = 0 < version < SCHEMA_VERSION
            self._file = _identity(os.stat(self.path))
            # Once open, commits wait the whole BUSY_TIMEOUT, whatever the open had left.
            connection.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
        except BaseException:
            connection.close()
            raise
        return connection, str(mode)

    def acquire(self) -> None:
        """Become the only scheduler writing this file, until :meth:`close` (an OS lock on
        ``<file>.lock``, which the kernel releases if the process dies).

        :raises StoreInUseError: naming the file and the holder's pid and host.
        """
        try:
            self._writer_lock.acquire()
        except LockHeld as held:
            raise StoreInUseError(
                f"the state database {self.path} is in use by another scheduler "
                f"({held.holder}): stop that one, or give this one another state file "
                f"([state] path)"
            ) from None
        except OSError as error:
            raise StateStoreError(
                f"cannot lock the state database {self.path} ({self._writer_lock.path}): {error}"
            ) from None
        with self._db_lock:  # the writer thread uses the connection under it
            try:
                self._upgrade_if_outdated()
            except sqlite3.Error as error:
                raise StateStoreError(
                    f"cannot upgrade the state database {self.path} to schema version "
                    f"{SCHEMA_VERSION}: {_describe(error)}"
                ) from None

    def _upgrade_if_outdated(self) -> None:
        """Under ``_db_lock``: bring an older file to this schema before writing to it."""
        if self._outdated:
            _upgrade(self._connection)
            self._outdated = False

    # -- writes: buffered -------------------------------------------------------------------

    def _buffer(self, write: _Write) -> None:
        if self._closed:
            raise StateStoreError(f"the state database {self.path} is closed")
        with self._pending_lock:
            self._pending.append(write)
            full = len(self._pending) >= self.batch_size
        if full:
            if self._writer is None:
                self.flush()
            else:
                self._wake.set()

    def save_job(self, state: JobState) -> None:
        self._jobs_now[state.name] = (
            state.next_fire,
            state.last_fire,
            state.paused,
            state.schedule,
            state.paused_reason,
        )
        self._buffer((_save_jobs, state))

    def remove_job(self, name: str) -> None:
        self._jobs_now.pop(name, None)
        self._buffer((_remove_jobs, name))

    def run_started(self, run: RunContext) -> None:
        started = (run, os.getpid())
        self._in_flight_now[run.run_id, run.attempt] = started
        self._buffer((_runs_started, started))
        if not self.commit_before_run and self._writer is not None:
            self._wake.set()  # the run does not wait, but a crash should still find it

    def record_run(self, record: RunRecord) -> None:
        self._in_flight_now.pop((record.run_id, record.attempt), None)
        self._buffer((_record_runs, record))

    def committed(self) -> Awaitable[None] | None:
        """On the event loop: an awaitable done once every write made so far is committed
        (or its commit failed: then the failure is logged and nobody waits for the disk);
        ``None`` when there is nothing to wait for.

        The writer is woken once the loop has run what is ready, so the runs that a burst
        of fires started together wait for one commit.
        """
        if not self.commit_before_run:
            return None
        if self._writer is None:
            self.flush()
            return None
        if self.failing is not None:
            return None
        with self._pending_lock:
            commit = self._ticket()
            if commit is None or commit.finished.is_set():
                return None
            future = commit.future
            if future is None:
                loop = asyncio.get_running_loop()
                future = commit.future = loop.create_future()
                loop.call_soon(self._wake.set)
        return future

    def _ticket(self) -> _Commit | None:
        """The commit that will carry every write made so far (call with the pending lock)."""
        if self._pending:
            if self._pending_commit is None:
                self._pending_commit = _Commit()
            return self._pending_commit
        if self._running_commit is None:
            return None
        return self._running_commit

    def flush(self) -> None:
        """Commit every buffered write, in one transaction.

        :raises StateStoreError: with SQLite's own reason (``database or disk is full
            (SQLITE_FULL)``); the writes are kept and go with the next commit.
        """
        with self._db_lock:
            with self._pending_lock:
                batch, self._pending = self._pending, []
                commit, self._pending_commit = self._pending_commit, None
                if commit is None and batch:
                    commit = _Commit()  # a read that comes meanwhile waits for it
                self._running_commit = commit
            try:
                self._commit(batch)
            except BaseException:
                with self._pending_lock:
                    self._pending[:0] = batch  # kept, in order, ahead of later writes
                raise
            finally:
                with self._pending_lock:
                    self._running_commit = None
                    future = None
                    if commit is not None:
                        commit.finished.set()
                        future = commit.future
                if future is not None:
                    with contextlib.suppress(RuntimeError):  # the loop has closed
                        future.get_loop().call_soon_threadsafe(_settle, future)

    def _commit(self, batch: list[_Write]) -> None:
        self._reopen_if_gone()
        if self._rescued:
            batch = self._rescued + batch
        if not batch:
            return
        connection = self._connection
        touched: set[str] = set()
        try:
            # An older file (or one that replaced it: the rescue writes this schema's rows)
            # is upgraded by its first write, never by a reader.
            self._upgrade_if_outdated()
            connection.execute("BEGIN IMMEDIATE")
            try:
                for apply, writes in groupby(batch, key=itemgetter(0)):
                    arguments = [argument for _, argument in writes]
                    apply(connection, arguments)
                    if apply is _record_runs:
                        touched.update(record.job for record in arguments)
                self._prune(touched)
                connection.execute("COMMIT")
                self._rescued = []
            except BaseException:
                # SQLite may have rolled the transaction back itself (a full disk does):
                # a second rollback would only hide the real error.
                if connection.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            raise StateStoreError(
                f"cannot write the state database {self.path}: {_describe(error)}"
            ) from None

    def _prune(self, jobs: set[str]) -> None:
        """Keep the newest ``success_history`` and ``failure_history`` runs of each job: an
        index walk to the first run too many, then a range delete."""
        self._connection.executemany(
            "DELETE FROM runs WHERE job = ? AND failed = ? AND seq <= (SELECT seq FROM runs "
            "WHERE job = ? AND failed = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
            [
                (job, failed, job, failed, keep)
                for job in jobs
                for failed, keep in ((0, self.success_history), (1, self.failure_history))
            ],
        )

    def _reopen_if_gone(self) -> None:
        """When the file was deleted or replaced, open the one now at the path, and keep
        the writes that put every job's state (and the runs in flight) back into it."""
        try:
            gone = _identity(os.stat(self.path)) != self._file
            how = "replaced by another file"
        except FileNotFoundError:
            gone, how = True, "deleted"
        except OSError:
            return  # the directory cannot be read: the commit will say what is wrong
        if not gone:
            return
        with contextlib.suppress(sqlite3.Error):
            self._connection.close()
        self._connection = self._connect()
        if self._writer_lock.held and not self._writer_lock.still_ours():
            self._writer_lock.release()  # a lock on a deleted file keeps nobody out
            try:
                self._writer_lock.acquire()
            except (LockHeld, OSError) as error:
                logger.critical(
                    "the lock file of the state database %s was deleted and cannot be taken "
                    "again (%s): another scheduler may now write this file too",
                    self.path,
                    error,
                )
        jobs = dict(self._jobs_now)
        runs = dict(self._in_flight_now)
        logger.error(
            "the state database %s was %s while the scheduler ran; wrote the state of its "
            "%d job(s) and %d run(s) in flight into a new file (the run history before now "
            "is not in it)",
            self.path,
            how,
            len(jobs),
            len(runs),
        )
        self._rescued = [(_save_jobs, JobState(name, *state)) for name, state in jobs.items()]
        self._rescued += [(_runs_started, started) for started in runs.values()]

    @property
    def failing(self) -> str | None:
        """The error of the batch that failed last, while writes fail; ``None`` when healthy."""
        return self._retries.failing

    def _write_periodically(self) -> None:
        retries = self._retries
        while not self._closed:
            if retries.failing is None:
                self._wake.wait(retries.delay)
                self._wake.clear()
            else:  # retrying a failed batch: only closing cuts the pause short
                self._closing.wait(retries.delay)
            if self._closed:
                return
            try:
                self.flush()
            except StateStoreError as error:
                retries.failed(error)
            else:
                retries.succeeded()

    # -- reads ------------------------------------------------------------------------------

    def _wait_for_writes(self) -> None:
        """Let a read see the writes made before it: commit them first, or wait (at most
        ``read_timeout``) for the writer thread to, without holding any lock it needs."""
        if self._writer is None:
            self.flush()
            return
        if self.failing is not None or threading.current_thread() is self._writer:
            return
        with self._pending_lock:
            commit = self._ticket()
        if commit is None:
            return
        self._wake.set()
        if not commit.finished.wait(self.read_timeout):
            logger.debug(
                "a read of %s did not wait longer than %gs for buffered writes",
                self.path,
                self.read_timeout,
            )

    def _query(self, sql: str, parameters: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        self._wait_for_writes()
        with self._read_lock:
            try:
                if self._reader is None or self._reader_file != self._file:
                    if self._reader is not None:
                        self._reader.close()
                    # A connection of its own: in WAL mode a reader never waits for a
                    # writer, whichever process holds the write lock.
                    self._reader = sqlite3.connect(
                        self.path,
                        timeout=self.read_timeout,
                        isolation_level=None,
                        check_same_thread=False,
                    )
                    self._reader_file = self._file
                return self._reader.execute(sql, tuple(parameters)).fetchall()
            except sqlite3.Error as error:
                raise StateStoreError(
                    f"cannot read the state database {self.path}: {_describe(error)}"
                ) from None

    def load_jobs(self) -> dict[str, JobState]:
        reason = "NULL" if self._outdated else "paused_reason"  # schema 1 had none
        rows = self._query(
            f"SELECT name, next_fire, last_fire, paused, schedule, {reason} FROM jobs"
        )
        return {
            name: JobState(
                name, _moment(next_fire), _moment(last_fire), bool(paused), schedule, reason
            )
            for name, next_fire, last_fire, paused, schedule, reason in rows
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

    def attempt_records(self, job: str, run_id: str, attempt: int) -> list[RunRecord]:
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE job = ? AND run_id = ? AND attempt = ? "
            "ORDER BY seq",
            [job, run_id, attempt],
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
                self._commit([(_record_runs, record) for record in records])
        return records

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``: ``["ok"]`` for a sound file."""
        return [str(row[0]) for row in self._query("PRAGMA integrity_check")]

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Flush, stop the writer thread, close the file and release the writer's lock.
        Closing twice is a no-op.

        :raises StateStoreError: when the last writes cannot be committed (they are lost,
            and the error says why); the file is closed all the same.
        """
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._wake.set()
        if self._writer is not None:
            self._writer.join()
        try:
            self.flush()
        except StateStoreError as error:
            raise StateStoreError(
                f"{error}; {len(self._pending)} buffered writes are lost"
            ) from None
        finally:
            with self._db_lock:
                self._connection.close()
            with self._read_lock:
                if self._reader is not None:
                    self._reader.close()
            self._writer_lock.release()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SQLiteStore {str(self.path)!r}>"


def _must(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- the writes, applied inside a batch's transaction ------------------------------------------
# Each takes the arguments of consecutive writes of its kind: one ``executemany`` per
# statement costs a third of one ``execute`` per write.


def _save_jobs(connection: sqlite3.Connection, states: list[JobState]) -> None:
    connection.executemany(
        "INSERT OR REPLACE INTO jobs (name, next_fire, last_fire, paused, schedule, "
        "paused_reason) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                state.name,
                _text(state.next_fire),
                _text(state.last_fire),
                int(state.paused),
                state.schedule,
                state.paused_reason,
            )
            for state in states
        ],
    )


def _remove_jobs(connection: sqlite3.Connection, names: list[str]) -> None:
    rows = [(name,) for name in names]
    connection.executemany("DELETE FROM jobs WHERE name = ?", rows)
    connection.executemany("DELETE FROM runs WHERE job = ?", rows)
    connection.executemany("DELETE FROM runs_in_flight WHERE job = ?", rows)


def _runs_started(connection: sqlite3.Connection, started: list[tuple[RunContext, int]]) -> None:
    connection.executemany(
        "INSERT OR REPLACE INTO runs_in_flight "
        "(run_id, attempt, job, fire_time, started_at, manual, pid) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run.run_id,
                run.attempt,
                run.job,
                run.fire_time.isoformat(),
                run.started_at.isoformat(),
                int(run.manual),
                pid,
            )
            for run, pid in started
        ],
    )


def _record_runs(connection: sqlite3.Connection, records: list[RunRecord]) -> None:
    connection.executemany(
        "DELETE FROM runs_in_flight WHERE run_id = ? AND attempt = ?",
        [(record.run_id, record.attempt) for record in records],
    )
    connection.executemany(
        f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
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
            )
            for record in records
        ],
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
    read_timeout: Duration = DEFAULT_READ_TIMEOUT,
    commit_before_run: bool | str = True,
) -> SQLiteStore:
    """The ``sqlite`` state store's factory: options may be text, as a config file gives them.

    :param path: the file; ``<user data dir>/sts/<scheduler name>.db`` by default.
    """
    return SQLiteStore(
        state_database(scheduler_name, path),
        success_history=parse_whole_number(success_history, what="success_history"),
        failure_history=parse_whole_number(failure_history, what="failure_history"),
        flush_interval=flush_interval,
        read_timeout=read_timeout,
        commit_before_run=(
            parse_boolean(commit_before_run, what="commit_before_run")
            if isinstance(commit_before_run, str)
            else commit_before_run
        ),
    )
