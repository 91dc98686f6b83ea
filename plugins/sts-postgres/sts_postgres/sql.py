"""Every SQL statement of the store, and the schema's migrations: the one place to read
what the plugin asks of PostgreSQL.

All tables are prefixed ``sts_`` (they live in a database the user already has) and keyed
by ``grp``, the group: the schedulers that share one scheduler name share its rows.
Statements take named parameters; ``now`` is ``NULL`` in production, where the database's
own clock (``now()``) decides leases and claim ages, so that the replicas' clocks need not
agree; tests pass the virtual clock's time instead.
"""

from __future__ import annotations

from typing import Final

#: (version, description, statements): applied in order, each in its own transaction,
#: under an advisory lock; a database with a version newer than the last is refused.
MIGRATIONS: Final[tuple[tuple[int, str, str], ...]] = (
    (
        1,
        "jobs, run history, runs in flight, fire claims, replica leases",
        """
CREATE TABLE sts_jobs (
    grp TEXT NOT NULL,
    name TEXT NOT NULL,
    next_fire TIMESTAMPTZ,
    last_fire TIMESTAMPTZ,
    paused BOOLEAN NOT NULL DEFAULT false,
    schedule TEXT NOT NULL,
    paused_reason TEXT,
    saved_by TEXT NOT NULL,
    saved_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (grp, name)
);
CREATE TABLE sts_runs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grp TEXT NOT NULL,
    run_id TEXT NOT NULL,
    job TEXT NOT NULL,
    fire_time TIMESTAMPTZ NOT NULL,
    outcome TEXT NOT NULL,
    failed BOOLEAN NOT NULL,
    attempt INTEGER NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    error TEXT,
    traceback TEXT,
    retry_at TIMESTAMPTZ,
    manual BOOLEAN NOT NULL,
    missed_count INTEGER NOT NULL,
    output JSONB,
    replica TEXT NOT NULL
);
CREATE INDEX sts_runs_by_job ON sts_runs (grp, job, failed, seq);
CREATE INDEX sts_runs_by_group ON sts_runs (grp, seq);
CREATE TABLE sts_runs_in_flight (
    grp TEXT NOT NULL,
    run_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    job TEXT NOT NULL,
    fire_time TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    manual BOOLEAN NOT NULL,
    replica TEXT NOT NULL,
    PRIMARY KEY (grp, run_id, attempt)
);
CREATE INDEX sts_runs_in_flight_by_replica ON sts_runs_in_flight (grp, replica);
CREATE TABLE sts_claims (
    grp TEXT NOT NULL,
    job TEXT NOT NULL,
    fire_time TIMESTAMPTZ NOT NULL,
    replica TEXT NOT NULL,
    kind TEXT NOT NULL,
    done BOOLEAN NOT NULL DEFAULT false,
    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (grp, job, fire_time)
);
CREATE INDEX sts_claims_open ON sts_claims (grp, replica) WHERE NOT done;
CREATE INDEX sts_claims_by_age ON sts_claims (grp, fire_time);
CREATE TABLE sts_replicas (
    grp TEXT NOT NULL,
    replica TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    beat_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (grp, replica)
);
""",
    ),
)

LATEST_VERSION: Final = MIGRATIONS[-1][0]

# -- migrations -------------------------------------------------------------------------------

CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS sts_schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
#: One key for every STS store in the database: migrations never run twice at once.
LOCK_MIGRATIONS = "SELECT pg_advisory_xact_lock(hashtext('sts:migrations'))"
CURRENT_VERSION = "SELECT coalesce(max(version), 0) FROM sts_schema_version"
RECORD_VERSION = "INSERT INTO sts_schema_version (version, description) VALUES (%s, %s)"
#: Whether the schema exists at all (without creating it: ``sts db status`` writes nothing).
VERSION_TABLE_EXISTS = "SELECT to_regclass('sts_schema_version') IS NOT NULL"

# -- start-up: one replica at a time reads and seeds the jobs' state ---------------------------

STARTUP_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', %s, false)"
LOCK_STARTUP = "SELECT pg_advisory_lock(hashtext('sts:start:' || %(grp)s))"
UNLOCK_STARTUP = "SELECT pg_advisory_unlock(hashtext('sts:start:' || %(grp)s))"

# -- jobs -------------------------------------------------------------------------------------

LOAD_JOBS = """
SELECT name, next_fire, last_fire, paused, schedule, paused_reason FROM sts_jobs
WHERE grp = %(grp)s
"""

# ``paused`` is shared state: a replica overwrites it only when it changed it itself
# (``SAVE_JOBS_PAUSED``), so the replicas that did not pause a job do not resume it on
# their next fire (``SAVE_JOBS`` keeps the stored value).
_SAVE_JOBS = """
INSERT INTO sts_jobs AS j
    (grp, name, next_fire, last_fire, paused, schedule, paused_reason, saved_by)
SELECT %(grp)s, u.name, u.next_fire, u.last_fire, u.paused, u.schedule, u.paused_reason,
       %(replica)s
FROM unnest(%(names)s::text[], %(next_fires)s::timestamptz[], %(last_fires)s::timestamptz[],
            %(paused)s::boolean[], %(schedules)s::text[], %(paused_reasons)s::text[])
     AS u(name, next_fire, last_fire, paused, schedule, paused_reason)
ON CONFLICT (grp, name) DO UPDATE SET
    next_fire = EXCLUDED.next_fire,
    last_fire = GREATEST(j.last_fire, EXCLUDED.last_fire),
    schedule = EXCLUDED.schedule,
    saved_by = EXCLUDED.saved_by,
    saved_at = now()"""
#: A job's routine save (its next and last fire, after a fire): every replica of the group
#: saves every job after every fire, the same times on the same grid. A row another
#: replica's transaction holds is skipped (``SKIP LOCKED``), not waited for: that replica
#: is writing the same progress, and waiting made the writers of N replicas queue behind
#: one another on the same rows, holding their claims' rows meanwhile (which made other
#: claims wait). A skipped save is made again after the job's next fire; a stored next
#: fire a period behind only makes a restarted group try a fire whose claim is taken.
SAVE_JOBS = """
WITH u AS (
    SELECT * FROM unnest(%(names)s::text[], %(next_fires)s::timestamptz[],
                         %(last_fires)s::timestamptz[], %(paused)s::boolean[],
                         %(schedules)s::text[], %(paused_reasons)s::text[])
        AS u(name, next_fire, last_fire, paused, schedule, paused_reason)
), free AS (
    SELECT j.name FROM sts_jobs j JOIN u ON u.name = j.name
    WHERE j.grp = %(grp)s
    ORDER BY j.name
    FOR UPDATE OF j SKIP LOCKED
), saved AS (
    UPDATE sts_jobs j SET
        next_fire = u.next_fire,
        last_fire = GREATEST(j.last_fire, u.last_fire),
        schedule = u.schedule,
        saved_by = %(replica)s,
        saved_at = now()
    FROM u JOIN free ON free.name = u.name
    WHERE j.grp = %(grp)s AND j.name = u.name
)
INSERT INTO sts_jobs (grp, name, next_fire, last_fire, paused, schedule, paused_reason, saved_by)
SELECT %(grp)s, u.name, u.next_fire, u.last_fire, u.paused, u.schedule, u.paused_reason,
       %(replica)s
FROM u WHERE NOT EXISTS (SELECT FROM sts_jobs j WHERE j.grp = %(grp)s AND j.name = u.name)
ORDER BY u.name
ON CONFLICT (grp, name) DO NOTHING
"""
SAVE_JOBS_PAUSED = (
    _SAVE_JOBS + ",\n    paused = EXCLUDED.paused,\n    paused_reason = EXCLUDED.paused_reason\n"
)

#: The group's pause flags, which each replica follows (pause_sync.py).
PAUSED_JOBS = "SELECT name, paused FROM sts_jobs WHERE grp = %(grp)s"

REMOVE_JOBS = "DELETE FROM sts_jobs WHERE grp = %(grp)s AND name = ANY(%(names)s::text[])"

#: Other replicas' definitions, compared with this one's to detect mixed configurations.
JOB_SCHEDULES = "SELECT name, schedule, saved_by FROM sts_jobs WHERE grp = %(grp)s"

# -- runs -------------------------------------------------------------------------------------

RUNS_STARTED = """
INSERT INTO sts_runs_in_flight
    (grp, run_id, attempt, job, fire_time, started_at, manual, replica)
SELECT %(grp)s, u.run_id, u.attempt, u.job, u.fire_time, u.started_at, u.manual, %(replica)s
FROM unnest(%(run_ids)s::text[], %(attempts)s::int[], %(jobs)s::text[],
            %(fire_times)s::timestamptz[], %(started)s::timestamptz[], %(manual)s::boolean[])
     AS u(run_id, attempt, job, fire_time, started_at, manual)
ON CONFLICT (grp, run_id, attempt) DO NOTHING
"""

RUNS_ENDED = """
DELETE FROM sts_runs_in_flight f
USING unnest(%(run_ids)s::text[], %(attempts)s::int[]) AS u(run_id, attempt)
WHERE f.grp = %(grp)s AND f.run_id = u.run_id AND f.attempt = u.attempt
"""

RUN_COLUMNS = (
    "run_id, job, fire_time, outcome, failed, attempt, started_at, finished_at, error, "
    "traceback, retry_at, manual, missed_count, output, replica"
)

INSERT_RUNS = f"""
INSERT INTO sts_runs (grp, {RUN_COLUMNS})
SELECT %(grp)s, u.* FROM unnest(
    %(run_ids)s::text[], %(jobs)s::text[], %(fire_times)s::timestamptz[], %(outcomes)s::text[],
    %(failed)s::boolean[], %(attempts)s::int[], %(started)s::timestamptz[],
    %(finished)s::timestamptz[], %(errors)s::text[], %(tracebacks)s::text[],
    %(retry_at)s::timestamptz[], %(manual)s::boolean[], %(missed)s::int[], %(outputs)s::jsonb[],
    %(replicas)s::text[]
) AS u
"""

#: A scheduled fire's final record closes its claim (a lease takeover then leaves it be).
CLAIMS_DONE = """
UPDATE sts_claims c SET done = true
FROM unnest(%(jobs)s::text[], %(fire_times)s::timestamptz[]) AS u(job, fire_time)
WHERE c.grp = %(grp)s AND c.job = u.job AND c.fire_time = u.fire_time AND NOT c.done
"""

#: Keep the newest ``success_history`` and ``failure_history`` runs of each job touched:
#: one backward index walk per (job, kind) to the first run too many (LATERAL, so it runs
#: once per pair, not once per row), then a range delete on the same index. A pair with
#: nothing beyond its limit yields no row at all.
PRUNE_RUNS = """
DELETE FROM sts_runs r USING (
    SELECT t.job, k.failed, cut.seq AS cut
    FROM unnest(%(jobs)s::text[]) AS t(job)
    CROSS JOIN (VALUES (false, %(keep_success)s::int), (true, %(keep_failure)s::int))
        AS k(failed, keep)
    CROSS JOIN LATERAL (
        SELECT s.seq FROM sts_runs s
        WHERE s.grp = %(grp)s AND s.job = t.job AND s.failed = k.failed
        ORDER BY s.seq DESC OFFSET k.keep LIMIT 1
    ) AS cut
) c
WHERE r.grp = %(grp)s AND r.job = c.job AND r.failed = c.failed AND r.seq <= c.cut
"""

HISTORY = f"""
SELECT {RUN_COLUMNS} FROM sts_runs
WHERE grp = %(grp)s
  AND (%(job)s::text IS NULL OR job = %(job)s::text)
  AND (NOT %(failed_only)s OR failed)
ORDER BY seq DESC LIMIT %(limit)s
"""

ATTEMPT_RECORDS = f"""
SELECT {RUN_COLUMNS} FROM sts_runs
WHERE grp = %(grp)s AND job = %(job)s AND run_id = %(run_id)s AND attempt = %(attempt)s
ORDER BY seq
"""

RUNS_IN_FLIGHT = """
SELECT run_id, job, fire_time, attempt, started_at, manual, replica FROM sts_runs_in_flight
WHERE grp = %(grp)s ORDER BY started_at
"""

# -- claims -----------------------------------------------------------------------------------

# Every nominal fire is claimed once: the first replica whose insert lands owns the
# (group, job, fire time) key; the others' inserts conflict and do nothing. A claim is
# refused for a job paused in the group, and for a fire older than the claims kept
# (``claim_retention``), since its claim may already have been pruned. The paused flag is
# looked up per fire in the jobs' primary key (a join was planned as a hash join over a
# scan of every job of the table, for a batch of a few fires).
# The four run-claim statements (first try or resent; every fire asked, or only the
# unclaimed ones) are put together from these constant pieces, so that the rules they
# share (paused, stale, key order, the answer's columns) are written once.

#: Each fire asked, once (a resent statement's keys are made distinct: an update may touch
#: a row once per statement), as ``c(job, fire_time)``.
_FIRES = "unnest(%(jobs)s::text[], %(fire_times)s::timestamptz[]) AS c(job, fire_time)"
_DISTINCT_FIRES = """(SELECT DISTINCT * FROM unnest(%(jobs)s::text[], %(fire_times)s::timestamptz[])
          AS u(job, fire_time)) AS c"""


def _unclaimed(fires: str, *, held_counts: bool) -> str:
    """Only the fires with no claim (``held_counts``: or with one of this replica's own
    that is still open, the lost answer's), as ``o``."""
    held = "\n          AND (k.replica <> %(replica)s OR k.done)" if held_counts else ""
    return f"""open AS (
    SELECT c.job, c.fire_time
    FROM {fires}
    WHERE NOT EXISTS (
        SELECT FROM sts_claims k
        WHERE k.grp = %(grp)s AND k.job = c.job AND k.fire_time = c.fire_time{held}
    )
), """


def _run_claim(fires: str, *, unclaimed_only: bool, held_counts: bool) -> str:
    source = "open o" if unclaimed_only else fires
    alias = "o" if unclaimed_only else "c"
    conflict = (
        """ON CONFLICT (grp, job, fire_time) DO UPDATE SET kind = EXCLUDED.kind
        WHERE c.replica = EXCLUDED.replica AND NOT c.done"""
        if held_counts
        else "ON CONFLICT DO NOTHING"
    )
    return f"""
WITH {_unclaimed(fires, held_counts=held_counts) if unclaimed_only else ""}asked AS (
    SELECT {alias}.job, {alias}.fire_time,
           coalesce((SELECT j.paused FROM sts_jobs j
                     WHERE j.grp = %(grp)s AND j.name = {alias}.job), false) AS paused,
           {alias}.fire_time < coalesce(%(now)s::timestamptz, now())
                         - make_interval(secs => %(retention)s) AS stale
    FROM {source}
), won AS (
    INSERT INTO sts_claims AS c (grp, job, fire_time, replica, kind)
    SELECT %(grp)s, a.job, a.fire_time, %(replica)s, 'run' FROM asked a
    WHERE NOT a.paused AND NOT a.stale
    ORDER BY a.job, a.fire_time  -- every replica takes keys in one order: no deadlock
    {conflict}
    RETURNING job, fire_time
)
SELECT a.job, a.fire_time, w.job IS NOT NULL, a.paused, a.stale
FROM asked a LEFT JOIN won w ON w.job = a.job AND w.fire_time = a.fire_time
"""


CLAIM_FIRES = _run_claim(_FIRES, unclaimed_only=False, held_counts=False)

#: The fires a replica watches for their preferred replica, checked after
#: ``handoff_delay``: only those nobody has claimed are claimed (then the insert decides,
#: as in ``CLAIM_FIRES``). In a healthy group every one is claimed already: the statement
#: reads the claims' primary key under its snapshot, never waiting for a row another
#: transaction holds (an insert that conflicts with a claim being closed in a writer's
#: open transaction would wait for its commit), and writes nothing (no WAL flush at its
#: commit). It answers only for the fires it found unclaimed.
CLAIM_UNCLAIMED = _run_claim(_FIRES, unclaimed_only=True, held_counts=False)

# A claim statement whose connection was cut (a database restart, pg_terminate_backend)
# may have committed before the answer was lost. It is sent once more in these forms, in
# which a claim this replica holds and has not closed counts as won: it is the lost
# answer's (the store answers ``False`` for a fire it had already won and not finished,
# so a fire asked twice is not run twice).
CLAIM_FIRES_AGAIN = _run_claim(_DISTINCT_FIRES, unclaimed_only=False, held_counts=True)
CLAIM_UNCLAIMED_AGAIN = _run_claim(_DISTINCT_FIRES, unclaimed_only=True, held_counts=True)

#: A fire recorded without running (missed, skipped) takes its claim too, so that N
#: replicas late together record it once, and never beside a run of the same fire. A
#: claim of this replica's own that is still open counts as won: its insert was committed
#: but the answer lost with the connection, so the fire never ran here.
CLAIM_RECORDS = """
WITH asked AS (
    SELECT * FROM unnest(%(jobs)s::text[], %(fire_times)s::timestamptz[], %(kinds)s::text[],
                         %(indexes)s::int[]) AS c(job, fire_time, kind, index)
), won AS (
    INSERT INTO sts_claims AS c (grp, job, fire_time, replica, kind, done)
    SELECT %(grp)s, a.job, a.fire_time, %(replica)s, a.kind, true FROM asked a
    ORDER BY a.job, a.fire_time
    ON CONFLICT (grp, job, fire_time) DO UPDATE SET kind = EXCLUDED.kind, done = true
        WHERE c.replica = EXCLUDED.replica AND NOT c.done
    RETURNING job, fire_time
)
SELECT a.index FROM asked a JOIN won w ON w.job = a.job AND w.fire_time = a.fire_time
"""

PRUNE_CLAIMS = """
DELETE FROM sts_claims
WHERE grp = %(grp)s AND done
  AND fire_time < coalesce(%(now)s::timestamptz, now()) - make_interval(secs => %(retention)s)
"""

# -- leases -----------------------------------------------------------------------------------

RENEW_LEASE = """
UPDATE sts_replicas
SET beat_at = coalesce(%(now)s::timestamptz, now()),
    expires_at = coalesce(%(now)s::timestamptz, now()) + make_interval(secs => %(lease)s)
WHERE grp = %(grp)s AND replica = %(replica)s
"""

TAKE_LEASE = """
INSERT INTO sts_replicas (grp, replica, host, pid, started_at, beat_at, expires_at)
VALUES (%(grp)s, %(replica)s, %(host)s, %(pid)s, coalesce(%(now)s::timestamptz, now()),
        coalesce(%(now)s::timestamptz, now()),
        coalesce(%(now)s::timestamptz, now()) + make_interval(secs => %(lease)s))
ON CONFLICT (grp, replica) DO UPDATE SET beat_at = EXCLUDED.beat_at,
    expires_at = EXCLUDED.expires_at
"""

DROP_LEASE = "DELETE FROM sts_replicas WHERE grp = %(grp)s AND replica = %(replica)s"

LIVE_REPLICAS = """
SELECT replica FROM sts_replicas
WHERE grp = %(grp)s AND expires_at >= coalesce(%(now)s::timestamptz, now())
ORDER BY replica
"""

#: Whoever deletes an expired lease (one replica only: the delete locks the row) records
#: its runs; ``host`` and ``pid`` go into the records' error text.
EXPIRED_LEASES = """
DELETE FROM sts_replicas
WHERE grp = %(grp)s AND expires_at < coalesce(%(now)s::timestamptz, now())
RETURNING replica, host, pid, expires_at
"""

#: A replica that stopped on this host (its pid is gone) is taken over at once, without
#: waiting for its lease: a restarted scheduler recovers its own runs at start.
DROP_REPLICAS = """
DELETE FROM sts_replicas WHERE grp = %(grp)s AND replica = ANY(%(replicas)s::text[])
RETURNING replica, host, pid, expires_at
"""

REPLICAS_ON_HOST = """
SELECT replica, pid FROM sts_replicas
WHERE grp = %(grp)s AND host = %(host)s AND replica <> %(replica)s
"""

ORPHANED_RUNS = """
DELETE FROM sts_runs_in_flight WHERE grp = %(grp)s AND replica = ANY(%(replicas)s::text[])
RETURNING run_id, job, fire_time, attempt, started_at, manual, replica
"""

ORPHANED_CLAIMS = """
UPDATE sts_claims SET done = true
WHERE grp = %(grp)s AND replica = ANY(%(replicas)s::text[]) AND NOT done
RETURNING job, fire_time, replica
"""
