"""The ``postgres`` state store: job state, bounded run history, runs in flight and fire
claims in PostgreSQL, shared by every replica of a scheduler group.

Like the SQLite store, the engine's calls never touch the network on its loop: writes go
to a buffer that a writer (on the store's own loop, :mod:`.loop_thread`) commits in one
transaction every ``flush_interval``, at once when a run waits for its start to be
durable (:meth:`PostgresStore.committed`), or when ``batch_size`` writes wait. A batch
that fails (the database is down) is kept and tried again ahead of later writes, so what
a run recorded during an outage is written when the connection returns.

What SQLite does not need, a group does: :meth:`PostgresStore.claim_fire` (each fire run
once, :mod:`.claims`) and leases (a dead replica's runs recorded ``interrupted`` by
another, :mod:`.leases`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from itertools import groupby
from typing import Any

import psycopg
import psycopg.errors
import psycopg_pool
from psycopg.conninfo import conninfo_to_dict

import sts

from . import schema, sql
from .claims import ClaimAnswer, ClaimQueue
from .leases import LeaseKeeper
from .loop_thread import LoopThread
from .pool_check import pooled_connection
from .rows import (
    NOT_RUN_OUTCOMES,
    job_columns,
    new_record_id,
    record_columns,
    record_from_row,
    started_columns,
)

logger = logging.getLogger("sts.postgres")

DEFAULT_HISTORY = 20
DEFAULT_LEASE = 30.0
DEFAULT_FLUSH_INTERVAL = 0.2
DEFAULT_BATCH_SIZE = 500
DEFAULT_READ_TIMEOUT = 2.0
DEFAULT_CLAIM_RETENTION = 3600.0
DEFAULT_HANDOFF_DELAY = 0.1
DEFAULT_CLAIM_WINDOW = 0.005
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_POOL_SIZE = 4
#: How long a replica waits for another to finish starting (it holds the group's start-up
#: lock while it reads and seeds the jobs' state: milliseconds, unless it hangs).
STARTUP_LOCK_TIMEOUT = 60.0
#: How often a statement that lost a deadlock (or a serialization conflict) is tried again
#: at once before it counts as failed.
DEADLOCK_RETRIES = 5
_TRANSIENT = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


# The stores of this process that hold their group's start-up lock, by (database, group).
# A second scheduler of the same group in the same process (tests, an app that embeds two)
# cannot wait for the lock on the loop the first one releases it from: it reads after the
# first one's seeds are committed instead.
_STARTING: dict[tuple[str, str], PostgresStore] = {}
_STARTING_LOCK = threading.Lock()


class StateStoreError(Exception):
    """The database cannot be reached or used; the message names it (never a password)."""


def describe_dsn(dsn: str) -> str:
    """``postgres@127.0.0.1:5432/db``: where a DSN points, without its password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(an invalid DSN)"
    user = str(parts.get("user") or "")
    host = str(parts.get("host") or "localhost")
    port = str(parts.get("port") or "5432")
    database = str(parts.get("dbname") or user)
    return f"{user + '@' if user else ''}{host}:{port}/{database}"


def _error_text(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return sts.redact(text[0] if text else type(error).__name__)


class _Ticket:
    """The commit of one batch: done when it is committed, or failed (then logged; runs
    waiting on it go on, as with the SQLite store: nobody waits on a broken database)."""

    __slots__ = ("done", "waiting")

    def __init__(self) -> None:
        self.done: concurrent.futures.Future[None] = concurrent.futures.Future()
        #: The engine loop's view of ``done``, made once by the first run that waits.
        self.waiting: asyncio.Future[None] | None = None

    def settle(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


_Write = tuple[str, Any]


class PostgresStore:
    """Job state, run history, runs in flight and fire claims of a scheduler group in a
    PostgreSQL database.

    :param dsn: a libpq connection string or URI (``postgresql://user@host/db``).
    :param group: the group's name: replicas with the same group share jobs, history and
        claims (the scheduler's name, from the factory).
    :param success_history: runs kept per job that did not fail, newest first.
    :param failure_history: runs kept per job that failed (failed, timed out,
        interrupted, missed).
    :param lease: how long a replica's runs stay its own without a heartbeat (it beats
        every third of it); after that another replica records them ``interrupted``.
    :param flush_interval: at most how long a write waits in the buffer.
    :param batch_size: how many buffered writes trigger a commit at once.
    :param read_timeout: at most how long a read waits for buffered writes.
    :param claim_retention: how long claims are kept; a fire older than this is not run
        (it is recorded missed), since its claim may have been pruned.
    :param handoff_delay: how long a replica that is not a fire's preferred one waits
        before it claims the fire.
    :param claim_window: how long a claim waits for the claims due after it, to go in
        one statement (a few milliseconds: it is part of every fire's lateness).
    :param pool_size: connections at most (one for claims, one for writes, the rest for
        reads and the lease).
    :param connect_timeout: how long the first connection may take.
    :param auto_migrate: apply missing schema migrations at start; ``False`` refuses a
        database that lacks them (``sts db upgrade`` applies them).
    :param commit_before_run: whether a run also waits for its start to be committed; off
        by default, since the fire's claim is committed first (see :meth:`committed`).
    :param clock: where lease times come from; ``None`` (production) uses the database's
        clock, so replicas' clocks need not agree. Tests pass a virtual clock.
    :raises StateStoreError: when the database cannot be reached or has the wrong schema.
    """

    def __init__(
        self,
        dsn: str,
        *,
        group: str = "sts",
        success_history: int = DEFAULT_HISTORY,
        failure_history: int = DEFAULT_HISTORY,
        lease: float = DEFAULT_LEASE,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        batch_size: int = DEFAULT_BATCH_SIZE,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        claim_retention: float = DEFAULT_CLAIM_RETENTION,
        handoff_delay: float = DEFAULT_HANDOFF_DELAY,
        claim_window: float = DEFAULT_CLAIM_WINDOW,
        pool_size: int = DEFAULT_POOL_SIZE,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        auto_migrate: bool = True,
        commit_before_run: bool = False,
        clock: sts.Clock | None = None,
    ) -> None:
        for what, value, least in (
            ("success_history", success_history, 0),
            ("failure_history", failure_history, 0),
            ("batch_size", batch_size, 1),
            ("pool_size", pool_size, 2),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"invalid {what} {value!r}: expected a whole number >= {least}")
        if lease < 1.0:
            raise ValueError(f"invalid lease {lease!r}: expected at least 1s")
        self.dsn = dsn
        self.where = describe_dsn(dsn)
        self.group = group
        self.success_history = success_history
        self.failure_history = failure_history
        self.lease = lease
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.read_timeout = read_timeout
        self.claim_retention = claim_retention
        self.handoff_delay = handoff_delay
        self.claim_window = claim_window
        self.connect_timeout = connect_timeout
        self.pool_size = pool_size
        self.commit_before_run = commit_before_run
        self.clock = clock
        #: This process's id in the group: host, pid and a random part (a pid is reused).
        self.host = socket.gethostname()
        self.replica = f"{self.host}:{os.getpid()}:{os.urandom(3).hex()}"
        self._pending: list[_Write] = []
        self._pending_ticket: _Ticket | None = None
        self._running_ticket: _Ticket | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._abandoned = False
        self._retries = sts.WriteRetries(self.flush_interval, self.where, logger)
        # The paused flag each job had when this replica last read or wrote it: a save
        # carries ``paused`` only when this replica changed it (sql.SAVE_JOBS_PAUSED).
        self._paused_seen: dict[str, bool] = {}
        # Records this replica added per job since it last pruned that job's history.
        self._since_prune: dict[str, int] = {}
        self._prune_due: set[str] = set()
        self._incoming: list[tuple[str, datetime, asyncio.Future[bool]]] = []
        #: This replica's definition of each job, to detect mixed configurations.
        self.schedules: dict[str, str] = {}
        self._startup_lock: psycopg.AsyncConnection[Any] | None = None
        #: Another store of this process that held the start-up lock when this one joined.
        self._seeded_by: PostgresStore | None = None
        self._thread = LoopThread(f"sts-postgres-{group}")
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._pool: psycopg_pool.AsyncConnectionPool | None = None
        self.claims = ClaimQueue(
            self._send_claims,
            self._check_claims,
            self._unclaimable,
            handoff_delay,
            claim_window,
            self.replica,
        )
        self.leases = LeaseKeeper(self)
        try:
            self._thread.call(self._open(auto_migrate), timeout=connect_timeout + 30)
        except BaseException:
            self._thread.call(self._close_pool())
            self._thread.stop()
            raise

    # -- opening ----------------------------------------------------------------------------

    async def _open(self, auto_migrate: bool) -> None:
        self._pool = psycopg_pool.AsyncConnectionPool(
            self.dsn,
            min_size=2,
            max_size=max(2, self.pool_size),
            open=False,
            kwargs={"autocommit": True},
            name=f"sts-{self.group}",
            reconnect_timeout=0,
        )
        try:
            await self._pool.open(wait=True, timeout=self.connect_timeout)
        except psycopg_pool.PoolTimeout:
            raise StateStoreError(
                f"cannot connect to the state database {self.where} within "
                f"{self.connect_timeout:g}s: {self._last_connect_error()}"
            ) from None
        try:
            async with self._pool.connection() as connection:
                if auto_migrate:
                    await schema.upgrade(connection)
                else:
                    await schema.check_current(connection)
        except schema.SchemaError as error:
            raise StateStoreError(f"the state database {self.where}: {error}") from None
        except psycopg.Error as error:
            raise StateStoreError(
                f"cannot use the state database {self.where}: {_error_text(error)}"
            ) from None
        self._wake = asyncio.Event()
        self._writer = asyncio.get_running_loop().create_task(self._write_periodically())
        self.claims.start()

    def _last_connect_error(self) -> str:
        try:
            with psycopg.connect(self.dsn, connect_timeout=max(1, int(self.connect_timeout))):
                return "the server answers now"
        except psycopg.Error as error:
            return _error_text(error)

    async def _close_pool(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    def connection(self) -> contextlib.AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        """A pooled connection (autocommit), on the store's loop."""
        assert self._pool is not None
        # A connection the server dropped (a restart, pg_terminate_backend) is found and
        # replaced when taken, instead of failing the statement it was taken for.
        return pooled_connection(self._pool, self.connect_timeout)

    def now_parameter(self) -> datetime | None:
        """The time leases and claim ages are measured against: ``None`` for the
        database's ``now()``, or the test clock's time."""
        return None if self.clock is None else self.clock.now()

    # -- acquire: start-up lock, lease --------------------------------------------------------

    def acquire(self) -> None:
        """Join the group: wait for the group's start-up lock (held while this replica reads
        and seeds the jobs' state, so replicas that start together schedule on one grid of
        fire times), take a lease, and keep it by heartbeat until :meth:`close`.

        :raises StateStoreError: when the database cannot be reached, or another replica
            holds the start-up lock longer than a minute.
        """
        key = (self.where, self.group)
        with _STARTING_LOCK:
            starting = _STARTING.setdefault(key, self)
        if starting is not self:
            self._seeded_by = starting
        else:
            try:
                self._call(self._take_startup_lock(), STARTUP_LOCK_TIMEOUT + 10)
            except BaseException:
                self._forget_starting()
                raise
        try:
            self._call(self.leases.join(), self.connect_timeout + 10)
        except BaseException:
            self._call(self._release_startup_lock(), self.connect_timeout)
            raise
        try:
            engine_loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            engine_loop = None
        self.leases.start(engine_loop)

    async def _take_startup_lock(self) -> None:
        try:
            connection = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, connect_timeout=max(1, int(self.connect_timeout))
            )
        except psycopg.Error as error:
            raise StateStoreError(
                f"cannot connect to the state database {self.where}: {_error_text(error)}"
            ) from None
        try:
            await connection.execute(sql.STARTUP_LOCK_TIMEOUT, (f"{STARTUP_LOCK_TIMEOUT:g}s",))
            await connection.execute(sql.LOCK_STARTUP, {"grp": self.group})
        except psycopg.Error as error:
            await connection.close()
            raise StateStoreError(
                f"another replica of group {self.group!r} held the start-up lock of "
                f"{self.where} longer than {STARTUP_LOCK_TIMEOUT:g}s ({_error_text(error)})"
            ) from None
        self._startup_lock = connection

    def _forget_starting(self) -> None:
        with _STARTING_LOCK:
            if _STARTING.get((self.where, self.group)) is self:
                del _STARTING[self.where, self.group]

    async def _release_startup_lock(self) -> None:
        self._forget_starting()
        connection, self._startup_lock = self._startup_lock, None
        if connection is not None:
            # Closing the session releases its advisory lock, whatever state it is in.
            await connection.close()

    async def _seeded(self) -> None:
        """The jobs' state this replica read and seeded at start is committed: let the next
        replica start."""
        await self._commit_pending()
        await self._release_startup_lock()

    def _call(self, work: Any, timeout: float) -> Any:
        try:
            return self._thread.call(work, timeout)
        except TimeoutError:
            raise StateStoreError(
                f"the state database {self.where} did not answer within {timeout:g}s"
            ) from None

    # -- writes: buffered ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def _buffer(self, write: _Write) -> None:
        if self._abandoned:
            return
        if self._closed:
            raise StateStoreError(f"the state store on {self.where} is closed")
        with self._lock:
            self._pending.append(write)
            # Woken once as the buffer fills, not on every write after: while a commit is
            # under way the buffer stays full, and each wake is a write to the store loop's
            # socket (it was a fifth of the engine's CPU at 1,000 fires a second).
            full = len(self._pending) == self.batch_size
        if full:
            self._wake_writer()

    def _wake_writer(self) -> None:
        wake = self._wake
        if wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._thread.loop.call_soon_threadsafe(wake.set)

    def save_job(self, state: sts.JobState) -> None:
        seen = self._paused_seen.get(state.name)
        changed = seen is None or seen != state.paused
        self._paused_seen[state.name] = state.paused
        self.schedules[state.name] = state.schedule
        if (
            not changed
            and state.last_fire is not None
            and not self.claims.prefers(state.name, state.last_fire)
        ):
            # A job's routine save after a fire is the fire's preferred replica's to make:
            # every replica fires every job on the same grid, so the others would write the
            # same times (N writes of each row per fire). While that replica is gone (until
            # its lease expires) the stored next fire lags; a restarted group then tries
            # fires whose claims are taken, which runs and records nothing twice.
            return
        self._buffer(("save_paused" if changed else "save", state))

    def remove_job(self, name: str) -> None:
        # Only the job's state: its history stays (bounded) for the group's other replicas,
        # which may still run a job of that name.
        self._paused_seen.pop(name, None)
        self.schedules.pop(name, None)
        self._buffer(("remove", name))

    def run_started(self, run: sts.RunContext) -> None:
        self._buffer(("started", run))

    def record_run(self, record: sts.RunRecord) -> None:
        self._buffer(("record", (record, self.replica)))

    def record_runs_now(self, records: list[tuple[sts.RunRecord, str]]) -> None:
        """Buffer records the store made itself (interrupted runs of a dead replica)."""
        for record in records:
            self._buffer(("record", record))

    def committed(self) -> Awaitable[None] | None:
        """On the event loop: an awaitable done once every write made so far is committed
        (or its commit failed, then logged); ``None`` when nothing waits to be written, or
        when ``commit_before_run`` is off (the default here).

        With this store a run need not wait: its fire's claim, committed before the run
        starts, already keeps the fire from running again after a crash, and a claim left
        open by a dead replica is recorded ``interrupted`` when its lease is taken over,
        whether or not the run's start was written.
        """
        if not self.commit_before_run:
            return None
        with self._lock:
            ticket = self._ticket()
        if ticket is None:
            return None
        if ticket.waiting is None:
            ticket.waiting = asyncio.wrap_future(ticket.done)
            self._wake_writer()
        return ticket.waiting

    def _ticket(self) -> _Ticket | None:
        """The commit that will carry every write made so far (under ``_lock``)."""
        if self._pending:
            if self._pending_ticket is None:
                self._pending_ticket = _Ticket()
            return self._pending_ticket
        return self._running_ticket

    @property
    def failing(self) -> str | None:
        """The error of the batch that failed last, while writes fail; ``None`` when healthy."""
        return self._retries.failing

    async def _write_periodically(self) -> None:
        assert self._wake is not None
        retries = self._retries
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), retries.delay)
            self._wake.clear()
            try:
                await self._commit_pending()
            except StateStoreError as error:
                retries.failed(error)
            else:
                retries.succeeded()

    async def _commit_pending(self) -> None:
        """Commit what is buffered, in order, in one transaction. A batch that fails goes
        back ahead of the writes made meanwhile.

        :raises StateStoreError: when the commit fails.
        """
        with self._lock:
            batch, self._pending = self._pending, []
            ticket, self._pending_ticket = self._pending_ticket, None
            self._running_ticket = ticket
        if not batch:
            return
        writes = _without_ended_starts(batch)
        try:
            for attempt in range(1, DEADLOCK_RETRIES + 1):
                try:
                    async with self.connection() as connection, connection.transaction():
                        for kind, group in groupby(writes, key=lambda write: write[0]):
                            await _APPLY[kind](self, connection, [item for _, item in group])
                    break
                except _TRANSIENT:
                    # Another replica's transaction crossed this one: PostgreSQL aborted
                    # one of the two. Nothing was written: try again at once.
                    if attempt == DEADLOCK_RETRIES:
                        raise
            await self._prune()
        except (psycopg.Error, psycopg_pool.PoolTimeout, OSError) as error:
            with self._lock:
                self._pending[:0] = batch
            raise StateStoreError(
                f"cannot write the state database {self.where}: {_error_text(error)}"
            ) from None
        finally:
            # Settled even when the commit failed: a run never waits on a broken database.
            with self._lock:
                self._running_ticket = None
            if ticket is not None:
                ticket.settle()

    async def _save(self, connection: psycopg.AsyncConnection[Any], states: list[Any]) -> None:
        await self._save_jobs(connection, states, sql.SAVE_JOBS)

    async def _save_paused(
        self, connection: psycopg.AsyncConnection[Any], states: list[Any]
    ) -> None:
        await self._save_jobs(connection, states, sql.SAVE_JOBS_PAUSED)

    async def _save_jobs(
        self, connection: psycopg.AsyncConnection[Any], states: list[Any], statement: str
    ) -> None:
        latest = {state.name: state for state in states}  # one row per job per statement
        await connection.execute(
            statement,
            {"grp": self.group, "replica": self.replica, **job_columns(list(latest.values()))},
        )

    async def _remove(self, connection: psycopg.AsyncConnection[Any], names: list[Any]) -> None:
        await connection.execute(sql.REMOVE_JOBS, {"grp": self.group, "names": names})

    async def _started(self, connection: psycopg.AsyncConnection[Any], runs: list[Any]) -> None:
        await connection.execute(
            sql.RUNS_STARTED,
            {"grp": self.group, "replica": self.replica, **started_columns(runs)},
        )

    async def insert_records(
        self, connection: psycopg.AsyncConnection[Any], records: list[Any]
    ) -> None:
        """Write ``(record, replica)`` pairs in the caller's transaction."""
        await write_records(self, connection, records)

    def prune_later(self, jobs: Iterable[str]) -> None:
        """Count records written per job; a job is pruned once this replica has added a
        quarter of its smaller limit since it last pruned it (a prune walks the index, so
        not on every record): its history exceeds its limits by at most that quarter per
        replica between prunes."""
        every = max(1, min(self.success_history, self.failure_history) // 4)
        for job in jobs:
            count = self._since_prune.get(job, 0) + 1
            if count >= every:
                self._prune_due.add(job)
                count = 0
            self._since_prune[job] = count

    async def _prune(self) -> None:
        """Prune the jobs due, in a transaction of its own after the batch's: replicas
        pruning one job at once may deadlock on its rows, and a prune that fails (it is
        tried again with the next records) must not take the batch with it."""
        due, self._prune_due = sorted(self._prune_due), set()
        if not due:
            return
        try:
            async with self.connection() as connection:
                await connection.execute(
                    sql.PRUNE_RUNS,
                    {
                        "grp": self.group,
                        "jobs": due,
                        "keep_success": self.success_history,
                        "keep_failure": self.failure_history,
                    },
                )
        except (psycopg.Error, psycopg_pool.PoolTimeout, OSError) as error:
            logger.debug("pruning the history of %d job(s) failed: %s", len(due), error)
            for job in due:  # tried again with the next record of each
                self._since_prune[job] = max(self._since_prune.get(job, 0), 10**9)

    # -- claims ---------------------------------------------------------------------------------

    def claim_fire(self, job: str, fire_time: datetime) -> Awaitable[bool]:
        """On the engine's loop: claim the scheduled fire ``(job, fire_time)`` for this
        replica. The awaitable answers ``True`` when this replica won it and must run it,
        ``False`` when another replica has it, the job is paused in the group, or the
        database cannot be reached (then the fire is recorded missed once it can)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.set_result(False)
            return future
        if not self.claims.prefers(job, fire_time):
            # Another replica claims it; this one checks later that somebody did, and
            # claims it if nobody has (a dead or late preferred replica), without waking
            # the store's loop for each fire.
            self.claims.watch(job, fire_time, future)
            return future
        # Claims made together (a burst of fires) cross to the store's loop in one call.
        with self._lock:
            first = not self._incoming
            self._incoming.append((job, fire_time, future))
        if first:
            try:
                self._thread.loop.call_soon_threadsafe(self._take_claims)
            except RuntimeError:  # the store's loop has closed: the store is closed
                future.set_result(False)
        return future

    def _take_claims(self) -> None:
        with self._lock:
            incoming, self._incoming = self._incoming, []
        for job, fire_time, future in incoming:
            self.claims.add(job, fire_time, future)

    async def _send_claims(self, keys: list[tuple[str, datetime]]) -> list[ClaimAnswer]:
        """The fires this replica is preferred for: claim them."""
        return await self._claim(keys, sql.CLAIM_FIRES, sql.CLAIM_FIRES_AGAIN, ClaimAnswer(False))

    async def _check_claims(self, keys: list[tuple[str, datetime]]) -> list[ClaimAnswer]:
        """Watched fires: claim those nobody has claimed; the others are lost (not tried)."""
        return await self._claim(
            keys, sql.CLAIM_UNCLAIMED, sql.CLAIM_UNCLAIMED_AGAIN, ClaimAnswer(False, tried=False)
        )

    async def _claim(
        self,
        keys: list[tuple[str, datetime]],
        statement: str,
        again: str,
        unanswered: ClaimAnswer,
    ) -> list[ClaimAnswer]:
        """Send a claim statement; a deadlock is tried again, and so, once, is a statement
        whose connection was cut (it may have committed: the second form counts this
        replica's open claims as won, except those it had won before this statement)."""
        cut = False
        deadlocks = 0
        while True:
            try:
                rows = await self._claim_statement(again if cut else statement, keys)
                break
            except _TRANSIENT:
                deadlocks += 1
                if deadlocks >= DEADLOCK_RETRIES:
                    raise
            except psycopg.OperationalError as error:
                if cut:
                    raise
                cut = True
                logger.debug("a claim of %d fire(s) was cut (%s): sent again", len(keys), error)
        won_before = self.claims.won_open if cut else {}
        answers = {
            (job, fire): ClaimAnswer(
                won and (job, fire) not in won_before,
                paused,
                stale,
                tried=not (paused or stale),
            )
            for job, fire, won, paused, stale in rows
        }
        return [answers.get(key, unanswered) for key in keys]

    async def _claim_statement(
        self, statement: str, keys: list[tuple[str, datetime]]
    ) -> list[tuple[Any, ...]]:
        async with self.connection() as connection:
            cursor = await connection.execute(
                statement,
                {
                    "grp": self.group,
                    "replica": self.replica,
                    "now": self.now_parameter(),
                    "retention": self.claim_retention,
                    "jobs": [job for job, _ in keys],
                    "fire_times": [fire for _, fire in keys],
                },
            )
            return await cursor.fetchall()

    def _unclaimable(self, keys: list[tuple[str, datetime]], why: str) -> None:
        """Fires not run because they could not be claimed: recorded missed, each taking
        its claim when written, so a fire another replica ran keeps only that run."""
        logger.warning(
            "%d fire(s) not run: they could not be claimed (%s); recorded missed",
            len(keys),
            why,
        )
        for job, fire in keys:
            record = sts.RunRecord(
                new_record_id(),
                job,
                fire,
                sts.Outcome.MISSED,
                error=f"fire not run: it could not be claimed ({why})",
                missed_count=1,
            )
            self._buffer(("record", (record, self.replica)))

    # -- reads ------------------------------------------------------------------------------

    def _wait_for_writes(self) -> None:
        if self.failing is not None or self._thread.is_current:
            return
        with self._lock:
            ticket = self._ticket()
        if ticket is None:
            return
        self._wake_writer()
        with contextlib.suppress(concurrent.futures.TimeoutError):
            ticket.done.result(self.read_timeout)

    async def _fetch(self, statement: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        async with self.connection() as connection:
            cursor = await connection.execute(statement, parameters)
            return await cursor.fetchall()

    def _query(self, statement: str, **parameters: Any) -> list[tuple[Any, ...]]:
        self._wait_for_writes()
        try:
            rows: list[tuple[Any, ...]] = self._thread.call(
                self._fetch(statement, {"grp": self.group, **parameters}),
                self.connect_timeout + self.read_timeout,
            )
        except (psycopg.Error, psycopg_pool.PoolTimeout, TimeoutError) as error:
            raise StateStoreError(
                f"cannot read the state database {self.where}: {_error_text(error)}"
            ) from None
        return rows

    def load_jobs(self) -> dict[str, sts.JobState]:
        seeded_by, self._seeded_by = self._seeded_by, None
        if seeded_by is not None:
            seeded_by._wait_for_writes()
        rows = self._query(sql.LOAD_JOBS)
        jobs = {
            name: sts.JobState(name, next_fire, last_fire, paused, schedule, reason)
            for name, next_fire, last_fire, paused, schedule, reason in rows
        }
        for name, state in jobs.items():
            self._paused_seen[name] = state.paused
        if self._startup_lock is not None:
            # The engine seeds every job's state right after this read, in the same turn of
            # its loop; once that turn ends, commit the seeds and let the next replica in.
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._thread.submit(self._seeded())
            else:
                loop.call_soon(self._thread.submit, self._seeded())
        return jobs

    def history(
        self, job: str | None = None, *, limit: int = 50, failed_only: bool = False
    ) -> list[sts.RunRecord]:
        rows = self._query(sql.HISTORY, job=job, failed_only=failed_only, limit=limit)
        return [record_from_row(row) for row in rows]

    def history_with_replicas(
        self, job: str | None = None, *, limit: int = 50, failed_only: bool = False
    ) -> list[tuple[sts.RunRecord, str]]:
        """Like :meth:`history`, with the replica that made each record."""
        rows = self._query(sql.HISTORY, job=job, failed_only=failed_only, limit=limit)
        return [(record_from_row(row), row[-1]) for row in rows]

    def attempt_records(self, job: str, run_id: str, attempt: int) -> list[sts.RunRecord]:
        """What the group recorded for one attempt (any replica), in the order recorded."""
        rows = self._query(sql.ATTEMPT_RECORDS, job=job, run_id=run_id, attempt=attempt)
        return [record_from_row(row) for row in rows]

    def runs_in_flight(self) -> list[tuple[sts.RunContext, str]]:
        """Attempts started and not finished in the group, with the replica running each."""
        rows = self._query(sql.RUNS_IN_FLIGHT)
        return [
            (sts.RunContext(run_id, job, fire, attempt, started, manual), replica)
            for run_id, job, fire, attempt, started, manual, replica in rows
        ]

    def recover_interrupted(self) -> list[sts.RunRecord]:
        """Record ``interrupted`` the runs of replicas whose lease expired, or that ran on
        this host and are gone (a restarted scheduler); return those records."""
        records: list[sts.RunRecord] = self._call(
            self.leases.take_over(include_dead_here=True), self.connect_timeout + 10
        )
        return records

    # -- closing ----------------------------------------------------------------------------

    def flush(self) -> None:
        """Commit everything buffered.

        :raises StateStoreError: when it cannot be committed (it stays buffered).
        """
        if self._thread.loop.is_closed():
            return
        self._call(self._commit_pending(), self.connect_timeout + 10)

    def close(self) -> None:
        """Stop the heartbeat, flush, give up the lease and close the connections. Closing
        twice is a no-op.

        :raises StateStoreError: when the last writes cannot be committed (they are lost,
            and the error says why); the store is closed all the same.
        """
        if self._closed:
            return
        try:
            self._call(self.claims.stop(), 10)
            self.leases.stop()
            self.flush()
            self._closed = True
        except StateStoreError as error:
            self._closed = True
            raise StateStoreError(
                f"{error}; {len(self._pending)} buffered writes are lost"
            ) from None
        finally:
            self._closed = True
            with contextlib.suppress(Exception):
                self._call(self._shut_down(), self.connect_timeout + 5)
            self._thread.stop()

    async def _shut_down(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        with contextlib.suppress(psycopg.Error, psycopg_pool.PoolTimeout):
            await self.leases.leave()
        await self._release_startup_lock()
        await self._close_pool()

    def abandon(self) -> None:
        """Stop everything at once, writing nothing more, as a killed process would (for
        tests of lease expiry): the lease stays in the table until it expires."""
        self._closed = self._abandoned = True
        self.leases.stop()

        async def drop() -> None:
            self.claims.live = []
            if self._writer is not None:
                self._writer.cancel()
            await self.claims.stop()
            await self._release_startup_lock()
            await self._close_pool()

        with contextlib.suppress(Exception):
            self._thread.call(drop(), 10)
        self._thread.stop()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PostgresStore {self.where} group={self.group!r} replica={self.replica!r}>"


def _without_ended_starts(batch: list[_Write]) -> list[_Write]:
    """The batch without the starts of attempts whose records it also carries: a run in
    flight inserted and deleted in one transaction is no run in flight at all (at 1,000
    runs a second, most runs start and end between two commits)."""
    ended = {(write[1][0].run_id, write[1][0].attempt) for write in batch if write[0] == "record"}
    if not ended:
        return batch
    return [
        write
        for write in batch
        if write[0] != "started" or (write[1].run_id, write[1].attempt) not in ended
    ]


async def write_records(
    store: PostgresStore,
    connection: psycopg.AsyncConnection[Any],
    records: list[tuple[sts.RunRecord, str]],
) -> None:
    """Insert run records (``(record, replica)``), in a transaction the caller opened:
    records of fires that did not run take the fire's claim first and are dropped when
    another replica has it; a scheduled run's final record closes its claim; then each
    job's history is pruned to its limits."""
    gated: list[int] = []
    duplicates: set[int] = set()
    keys: set[tuple[str, datetime]] = set()
    for index, (record, _) in enumerate(records):
        if not record.manual and record.outcome in NOT_RUN_OUTCOMES:
            key = (record.job, record.fire_time)
            # One statement may touch a claim once: a second record of the fire is dropped.
            if key in keys:
                duplicates.add(index)
            else:
                keys.add(key)
                gated.append(index)
    dropped: set[int] = set(duplicates)
    if gated:
        cursor = await connection.execute(
            sql.CLAIM_RECORDS,
            {
                "grp": store.group,
                "replica": store.replica,
                "jobs": [records[index][0].job for index in gated],
                "fire_times": [records[index][0].fire_time for index in gated],
                "kinds": [str(records[index][0].outcome) for index in gated],
                "indexes": gated,
            },
        )
        won = {row[0] for row in await cursor.fetchall()}
        dropped |= set(gated) - won
        for index in won:
            record = records[index][0]
            store.claims.closed(record.job, record.fire_time)
    kept = [pair for index, pair in enumerate(records) if index not in dropped]
    await connection.execute(
        sql.RUNS_ENDED,
        {
            "grp": store.group,
            "run_ids": [record.run_id for record, _ in records],
            "attempts": [record.attempt for record, _ in records],
        },
    )
    if not kept:
        return
    await connection.execute(sql.INSERT_RUNS, {"grp": store.group, **record_columns(kept)})
    final = [
        record
        for record, _ in kept
        if not record.manual and record.retry_at is None and record.outcome not in NOT_RUN_OUTCOMES
    ]
    if final:
        for record in final:
            store.claims.closed(record.job, record.fire_time)
        await connection.execute(
            sql.CLAIMS_DONE,
            {
                "grp": store.group,
                "jobs": [record.job for record in final],
                "fire_times": [record.fire_time for record in final],
            },
        )
    store.prune_later(record.job for record, _ in kept)


_Apply = Callable[[PostgresStore, psycopg.AsyncConnection[Any], list[Any]], Awaitable[None]]
_APPLY: dict[str, _Apply] = {
    "save": PostgresStore._save,
    "save_paused": PostgresStore._save_paused,
    "remove": PostgresStore._remove,
    "started": PostgresStore._started,
    "record": PostgresStore.insert_records,
}
