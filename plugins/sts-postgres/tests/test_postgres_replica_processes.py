"""Attacks with real processes: three ``sts run`` replicas on one database, each job
every second; a replica killed with SIGKILL; the database's connections cut. Counted from
the jobs' own log and the runs table: 0 doubled, 0 lost (a fire not run is recorded
missed or interrupted, never absent).

``STS_PG_ATTACK_JOBS`` and ``STS_PG_ATTACK_SECONDS`` scale the load (the issue's figure:
200 jobs for 60 s; the defaults keep the suite quick)."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli_helpers import STS, sts_environment, wait_for
from postgres_helpers import query, terminate_connections
from replica_processes import count, environment_for, read_log, replica_config

JOBS = int(os.environ.get("STS_PG_ATTACK_JOBS", "40"))
SECONDS = float(os.environ.get("STS_PG_ATTACK_SECONDS", "12"))


def now() -> datetime:
    return datetime.now(UTC)


def start_replicas(sts: object, config: Path, log: Path, dsn: str, n: int = 3) -> list:  # type: ignore[type-arg]
    replicas = []
    for number in range(n):
        # Each replica its own runtime dir, as on its own machine: its own control socket.
        env = {**sts.env, "XDG_RUNTIME_DIR": tempfile.mkdtemp(prefix="sts-replica-")}  # type: ignore[attr-defined]
        # Output to files, not pipes: a pipe nobody reads during the run fills up, and a
        # replica writing a warning would then block on it.
        output = config.parent / f"replica{number}.err"
        with output.open("w") as stderr:
            replica = subprocess.Popen(
                [str(STS), "run", str(config)],
                cwd=config.parent,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )
        replica.output = output  # type: ignore[attr-defined]
        sts.processes.append(replica)  # type: ignore[attr-defined]
        replicas.append(replica)
    wait_for(
        lambda: len(query(dsn, "SELECT 1 FROM sts_replicas")) == n if _has_tables(dsn) else False,
        timeout=60,
        what=f"{n} replicas to hold leases",
        process=replicas[0],
    )
    wait_for(lambda: read_log(log), timeout=30, what="a first fire")
    return replicas


def stop(replica: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, then wait: the exit code and what the replica wrote on stderr."""
    replica.send_signal(signal.SIGTERM)
    replica.wait(timeout=60)
    return replica.returncode, replica.output.read_text()  # type: ignore[attr-defined]


def _has_tables(dsn: str) -> bool:
    return bool(query(dsn, "SELECT to_regclass('sts_replicas') IS NOT NULL")[0][0])


def test_three_replicas_run_every_fire_exactly_once(dsn: str, tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        log = environment_for(tmp_path, sts.env)
        config = sts.write("sts.ini", replica_config(dsn, JOBS))
        replicas = start_replicas(sts, config, log, dsn)
        start = now() + timedelta(seconds=1)
        time.sleep(SECONDS)
        end = now() - timedelta(seconds=3)  # runs may lag a little on a busy machine
        for replica in replicas:
            code, err = stop(replica)
            assert code == 0, err
    counted = count(dsn, log, start, end)
    print(counted)
    assert counted.doubled == 0, counted
    assert counted.lost == 0, counted.lost_fires[:10]
    assert counted.fires >= JOBS * (SECONDS - 5)
    assert len(counted.by_replica) == 3 and min(counted.by_replica.values()) > counted.fires / 6
    runs = query(
        dsn,
        "SELECT job, fire_time, count(*) FROM sts_runs WHERE outcome = 'succeeded' "
        "GROUP BY job, fire_time HAVING count(*) > 1",
    )
    assert runs == []  # the runs table agrees: no fire recorded twice


def test_killed_replicas_work_is_taken_over_within_the_lease(dsn: str, tmp_path: Path) -> None:
    """One replica killed at a third of the run, another at two thirds (the issue's 20 s
    and 40 s of 60 s); the last one carries on alone."""
    with sts_environment(tmp_path) as sts:
        # Runs last 0.5s, so a killed replica has some in flight.
        log = environment_for(tmp_path, sts.env, run_seconds=0.5)
        config = sts.write("sts.ini", replica_config(dsn, JOBS, lease="3s"))
        replicas = start_replicas(sts, config, log, dsn)
        began = time.monotonic()
        start = now() + timedelta(seconds=1)
        takeovers: list[float] = []
        last_kill = now()
        for number, victim in enumerate(replicas[:2], start=1):
            time.sleep(max(0.0, began + SECONDS * number / 3 - time.monotonic()))
            os.kill(victim.pid, signal.SIGKILL)
            victim.communicate(timeout=30)
            killed_at = time.monotonic()
            last_kill = now()
            print(f"killed replica {number} (pid {victim.pid}) at {last_kill.time()}")
            # Its lease (3s) expires and another replica records its runs interrupted.
            wait_for(
                lambda victim=victim: query(
                    dsn,
                    "SELECT 1 FROM sts_runs WHERE outcome = 'interrupted' AND error LIKE %s",
                    f"%pid {victim.pid} %",
                ),
                timeout=15,
                what=f"the runs of killed replica {number} to be recorded interrupted",
            )
            takeovers.append(time.monotonic() - killed_at)
        time.sleep(max(0.0, began + SECONDS - time.monotonic()))
        end = now() - timedelta(seconds=3)  # runs may lag a little on a busy machine
        code, err = stop(replicas[2])
        assert code == 0, err
    counted = count(dsn, log, start, end)
    if counted.lost:
        print("the survivor's log:", err[-3000:])
    interrupted = query(dsn, "SELECT count(*) FROM sts_runs WHERE outcome = 'interrupted'")
    print(counted, f"; {interrupted[0][0]} runs recorded interrupted; takeover",
          ", ".join(f"{seconds:.1f}s" for seconds in takeovers), "after each kill")  # fmt: skip
    assert counted.doubled == 0, counted
    assert counted.lost == 0, counted.lost_fires[:10]
    assert all(seconds < 3 + 1 + 3 for seconds in takeovers)  # lease + a beat + slack
    # After the second kill, the last replica runs every fire.
    last = [pid for _, fire, pid in read_log(log) if fire > last_kill + timedelta(seconds=1)]
    assert set(last) == {replicas[2].pid}


def test_cut_connections_double_nothing_and_the_replicas_recover(dsn: str, tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        log = environment_for(tmp_path, sts.env)
        config = sts.write("sts.ini", replica_config(dsn, JOBS))
        replicas = start_replicas(sts, config, log, dsn)
        start = now() + timedelta(seconds=1)
        cut = 0
        for _ in range(3):  # a database outage, as the replicas see it: every connection cut
            time.sleep(SECONDS / 4)
            cut += terminate_connections(dsn)
        cut_at = now()
        wait_for(
            lambda: {pid for _, fire, pid in read_log(log) if fire > cut_at + timedelta(seconds=1)}
            == {replica.pid for replica in replicas},
            timeout=30,
            what="every replica to run fires again after the cut",
        )
        time.sleep(2)
        end = now() - timedelta(seconds=3)  # runs may lag a little on a busy machine
        for replica in replicas:
            code, err = stop(replica)
            assert code == 0, err
    counted = count(dsn, log, start, end)
    print(counted, f"{cut} connections cut")
    not_run = query(
        dsn,
        "SELECT outcome, left(error, 90), count(*) FROM sts_runs "
        "WHERE outcome IN ('missed', 'skipped') GROUP BY 1, 2 ORDER BY 3 DESC",
    )
    print("recorded not run:", not_run)
    assert cut > 0
    assert counted.doubled == 0, counted
    assert counted.lost == 0, counted.lost_fires[:10]
    # A cut costs no fire: a claim cut in flight is sent again at once, on a connection
    # taken without the pool's second of backoff (7-14% of the fires were recorded
    # skipped, their previous fire's claim still waiting, when every cut cost a second).
    assert counted.recorded_not_run <= counted.fires // 100, not_run


def test_a_killed_replicas_fires_are_run_by_the_others_before_its_lease_expires(
    dsn: str, tmp_path: Path
) -> None:
    """Only a fire's preferred replica claims it; the others take it over when it is
    still unclaimed after the handoff delay. One replica killed with SIGKILL, a lease
    longer than the run: the dead replica still counts as alive (its lease holds) for the
    whole window, so the fires it was preferred for are run by the others (not recorded
    missed), each once."""
    with sts_environment(tmp_path) as sts:
        log = environment_for(tmp_path, sts.env)
        # A lease longer than the whole run: the victim's fires can only be handed off.
        lease = f"{int(SECONDS) + 30}s"
        config = sts.write("sts.ini", replica_config(dsn, JOBS, lease=lease))
        replicas = start_replicas(sts, config, log, dsn)
        time.sleep(SECONDS / 3)
        victim = replicas[0]
        before = {pid for _, _, pid in read_log(log)}
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=30)
        killed_at = now()
        time.sleep(SECONDS * 2 / 3)
        end = now() - timedelta(seconds=3)  # runs may lag a little on a busy machine
        leases = query(dsn, "SELECT pid FROM sts_replicas")
        for replica in replicas[1:]:
            code, err = stop(replica)
            assert code == 0, err
    assert victim.pid in before  # it ran its share before it died
    assert (victim.pid,) in leases  # the window was inside its lease: no takeover yet
    counted = count(dsn, log, killed_at + timedelta(seconds=1), end)
    print(counted)
    assert counted.fires >= JOBS * (SECONDS * 2 / 3 - 5)
    assert counted.doubled == 0, counted
    assert counted.lost == 0, counted.lost_fires[:10]
    # Run by the survivors, not recorded missed: the victim's third was handed off.
    assert counted.recorded_not_run == 0, counted
    assert set(counted.by_replica) == {replica.pid for replica in replicas[1:]}
