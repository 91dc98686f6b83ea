"""Real processes on the real broker: `sts run` and `sts worker` processes, killed and cut
off from the broker; every fire counted (lost and doubled must be 0)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rabbit_helpers import (
    BROKER_URL,
    CuttableProxy,
    Namespace,
    lines,
    records,
    start_workers,
    stop,
    sts_command,
    wait_for,
    write_config,
)
from sts_rabbitmq.worker import DIED_MID_SPLIT

#: Real schedulers, workers and kills for ~2 minutes: in the full run, not the per-plugin one.
pytestmark = pytest.mark.slow

# Minutes of real processes killed and cut off: the full run has them, the per-plugin
# dependency runs of .ci/run skip them (CONTRIBUTING.md).
pytestmark = pytest.mark.slow


def _window(seconds: float, lead: float = 4.0) -> tuple[str, str]:
    start = datetime.now(UTC) + timedelta(seconds=lead)
    return start.isoformat(), (start + timedelta(seconds=seconds)).isoformat()


def test_two_workers_run_every_fire_exactly_once(rabbit: Namespace, workdir: Path) -> None:
    start, end = _window(25.0)
    config = write_config(
        workdir,
        rabbit,
        "[job:append]\ntype = python\ncallable = rabbit_jobs:append\nschedule = every 25ms\n"
        f"start = {start}\nend = {end}\noverlap = allow\ncoalesce = false\n"
        "misfire_grace = 60s\n",
        state="success_history = 5000",
    )
    workers = start_workers(config, workdir, 16)
    scheduler = sts_command("run", str(config), cwd=workdir)
    try:
        wait_for(lambda: datetime.now(UTC).isoformat() > end, "the end of the window", 120)
        out = workdir / "out.txt"
        count = 0

        def settled() -> bool:
            nonlocal count
            now = len(lines(out))
            settled_now, count = now == count and now > 0, now
            return settled_now

        wait_for(settled, "the last outcomes", 120)
    finally:
        stop([scheduler])
        stop(workers)
    assert scheduler.returncode == 0
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    outcomes = Counter(record["outcome"] for record in found)
    done = lines(workdir / "out.txt")
    keys = Counter(line.key for line in done)
    doubled = sum(count - 1 for count in keys.values())
    succeeded = {
        f"append@{datetime.fromisoformat(str(r['fire_time'])).astimezone(UTC).isoformat()}"
        for r in found
        if r["outcome"] == "succeeded"
    }
    lost = len(succeeded - keys.keys())
    print(f"fires={len(found)} outcomes={dict(outcomes)} doubled={doubled} lost={lost}")
    assert outcomes == {"succeeded": len(found)}, outcomes
    assert len(found) >= 1000
    assert doubled == 0 and lost == 0
    assert len(keys) == len(found)  # no run without its record either
    by_worker = Counter(line.worker for line in done)
    assert len(by_worker) == 2 and min(by_worker.values()) > len(found) // 10, by_worker
    assert {r["output"]["worker"] for r in found} == set(by_worker)


def test_kill_9_of_a_worker_mid_run_hands_its_runs_to_the_other(
    rabbit: Namespace, workdir: Path
) -> None:
    start, end = _window(1.05, lead=3.0)  # 20 or 21 fires
    config = write_config(
        workdir,
        rabbit,
        "[job:slow]\ntype = python\ncallable = rabbit_jobs:slow\nschedule = every 50ms\n"
        f"start = {start}\nend = {end}\noverlap = allow\ncoalesce = false\n"
        "misfire_grace = 60s\ntimeout = 60s\n",
        state="success_history = 100",
    )
    env = {"STS_TEST_SLOW": "4"}
    workers = start_workers(config, workdir, 20, env=env)
    scheduler = sts_command("run", str(config), cwd=workdir, env=env)
    out = workdir / "out.txt"
    try:
        wait_for(lambda: len({line.key for line in lines(out, "start")}) >= 20, "20 runs", 120)
        time.sleep(1.0)  # mid-run: each sleeps 4s, and 40 can run at once
        fires = len({line.key for line in lines(out, "start")})
        started = Counter(line.worker.rpartition(":")[2] for line in lines(out, "start"))
        victim = next(w for w in workers if str(w.pid) == started.most_common(1)[0][0])
        killed = started[str(victim.pid)]
        cut_short = {
            line.key for line in lines(out, "start") if line.worker.endswith(f":{victim.pid}")
        }
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        wait_for(lambda: len(lines(out)) >= fires, "every run to end", 120)
        time.sleep(1.0)  # any doubled run would end by now too
    finally:
        stop([scheduler])
        stop(workers)
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    done = Counter(line.key for line in lines(out))
    survivor = next(w for w in workers if w is not victim)
    print(f"killed worker had {killed} of {fires} runs; records={len(found)}")
    assert len(found) == fires and len(done) == fires
    assert all(count == 1 for count in done.values()), done  # 0 doubled
    assert {r["outcome"] for r in found} == {"succeeded"}  # 0 lost
    redelivered = [r for r in found if "redelivered" in r["output"]]
    # Every run cut short is recorded redelivered (and so may be a fire the dead worker
    # held, claimed, but had not started yet).
    keys = {f"slow@{datetime.fromisoformat(str(r['fire_time'])).isoformat()}" for r in redelivered}
    assert killed > 0 and cut_short <= keys
    assert all(r["output"]["worker"].endswith(f":{survivor.pid}") for r in redelivered)
    # The task saw it too (sts.current_run().redelivered), and the run's key.
    assert {line.key for line in lines(out) if line.redelivered} >= cut_short
    # And `sts history` shows where each ran.
    shown = subprocess.run(
        [sys.executable, "-m", "sts", "history", "--limit", "100", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=workdir,
    ).stdout
    assert "WORKER" in shown.splitlines()[0]
    assert shown.count(f":{survivor.pid} (redelivered)") == len(redelivered)


def test_kill_9_of_a_worker_holding_a_message_of_several_fires(
    rabbit: Namespace, workdir: Path
) -> None:
    """20 fires due at the same instant go out in a few messages (split between the two
    workers), each mixing short runs and long ones. A worker is killed -9 once its short
    runs ended and its long ones are under way: the broker hands its messages, whole, to
    the other worker, which must run each long one (recorded redelivered) and none of the
    short ones again (their claims are refused: recorded already)."""
    at = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
    jobs = "".join(
        f"[job:j{number:02d}{kind}]\ntype = python\ncallable = rabbit_jobs:{task}\n"
        f"schedule = at {at}\nmisfire_grace = 60s\ntimeout = 60s\n"
        for number in range(10)
        for kind, task in (("f", "append"), ("s", "slow"))
    )
    config = write_config(workdir, rabbit, jobs, state="success_history = 100")
    env = {"STS_TEST_SLOW": "4"}
    workers = start_workers(config, workdir, 20, env=env)
    scheduler = sts_command("run", str(config), cwd=workdir, env=env)
    out = workdir / "out.txt"
    try:
        wait_for(lambda: len(lines(out, "start")) >= 10, "the 10 long runs", 120)
        time.sleep(1.0)  # the short ones ended and are recorded; the long ones run on
        started = Counter(line.worker.rpartition(":")[2] for line in lines(out, "start"))
        victim = next(w for w in workers if str(w.pid) == started.most_common(1)[0][0])
        mine = [line.key for line in lines(out, "start") if line.worker.endswith(f":{victim.pid}")]
        ended = {line.key for line in lines(out) if line.worker.endswith(f":{victim.pid}")}
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        wait_for(lambda: len(lines(out)) >= 20, "every run to end", 120)
        time.sleep(2.0)  # a short run done twice would have ended by now too
    finally:
        stop([scheduler])
        stop(workers)
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    done = Counter(line.key for line in lines(out))
    survivor = next(w for w in workers if w is not victim)
    print(f"killed worker: {len(mine)} long runs cut short, {len(ended)} short ones done")
    assert len(found) == 20 and len(done) == 20
    assert all(count == 1 for count in done.values()), done  # 0 doubled
    assert {r["outcome"] for r in found} == {"succeeded"}  # 0 lost
    # The victim held long and short fires: its messages mixed them.
    assert mine and ended and all(key.startswith("j") and "s@" in key for key in mine)
    assert all("f@" in key for key in ended)
    by_key = {
        f"{r['job']}@{datetime.fromisoformat(str(r['fire_time'])).isoformat()}": r for r in found
    }
    for key in mine:  # taken over by the survivor, recorded redelivered
        output = by_key[key]["output"]
        assert output["worker"].endswith(f":{survivor.pid}") and "redelivered" in output, output
    for key in ended:  # ran once, on the victim, before its messages were handed out again
        output = by_key[key]["output"]
        assert output["worker"].endswith(f":{victim.pid}") and "redelivered" not in output
    assert {line.key for line in lines(out) if line.redelivered} >= set(mine)
    # The message handed out again was split, one message per fire (each with its own
    # delivery count), before any of its fires was claimed again.
    logs = "".join(path.read_text() for path in workdir.glob("worker-*.log"))
    assert "split a redelivered message of" in logs


def test_a_worker_killed_mid_split_leaves_no_fire_run_twice(
    rabbit: Namespace, workdir: Path
) -> None:
    """A worker that dies while it splits a redelivered message of several fires (after
    publishing some of them alone, before acking the message) leaves the message to be
    split again: two copies of those fires, both marked redelivered. One of them takes
    the fire over; the other is refused, however the two are spread over the workers.

    The victim runs 10 long fires, all in one message (it is the pool's only worker). It
    is killed -9; the message goes to a worker that dies (the test's crash point) after
    publishing 3 copies. Then a worker with room for 4 messages takes the message and
    the 3 copies (its only ones: nobody else consumes yet), splits the message again and
    runs its 3 copies; a second worker, started then, gets the new copies, 2 of which
    are of fires the first one holds. Without the scheduler's rule, those 2 run twice.
    (The dying worker may also claim and start a copy delivered to itself: a run cut
    short by its death, taken over like any other.)"""
    at = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
    jobs = "".join(
        f"[job:j{number:02d}]\ntype = python\ncallable = rabbit_jobs:slow\n"
        f"schedule = at {at}\nmisfire_grace = 60s\ntimeout = 60s\n"
        for number in range(10)
    )
    config = write_config(workdir, rabbit, jobs, state="success_history = 100")
    out = workdir / "out.txt"

    def worker(concurrency: int, **env: str) -> subprocess.Popen[bytes]:
        return sts_command(
            "worker", str(config), "--concurrency", str(concurrency), cwd=workdir, env=env
        )

    def logs() -> str:
        return "".join(path.read_text() for path in workdir.glob("worker-*.log"))

    def consuming(process: subprocess.Popen[bytes]) -> bool:
        return f":{process.pid}: consuming" in logs()

    victim = worker(20, STS_TEST_SLOW="60")
    scheduler = sts_command("run", str(config), cwd=workdir)
    others: list[subprocess.Popen[bytes]] = []
    try:
        wait_for(lambda: len(lines(out, "start")) >= 10, "the 10 runs on the victim", 120)
        splitter = worker(20, STS_TEST_SLOW="2", STS_RABBITMQ_TEST_DIE_MID_SPLIT="3")
        others.append(splitter)
        wait_for(lambda: consuming(splitter), "the splitter to consume", 60)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        splitter.wait(60)  # it took the message handed out again, and died mid-split
        first = worker(1, STS_TEST_SLOW="2")
        others.append(first)
        wait_for(lambda: "split a redelivered message of 10" in logs(), "the split again", 60)
        others.append(worker(20, STS_TEST_SLOW="2"))
        wait_for(lambda: len(lines(out)) >= 10, "every fire to end", 120)
        time.sleep(3.0)  # a fire run twice would have ended by now too
    finally:
        stop([scheduler])
        stop([*others, victim])
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    done = Counter(line.key for line in lines(out))
    # Started again after the kill, not counting the splitter: it may have claimed and
    # started a copy delivered to itself before it died (a run cut short: at least once).
    dead = (f":{victim.pid}", f":{splitter.pid}")
    again = Counter(line.key for line in lines(out, "start") if not line.worker.endswith(dead))
    refused = logs().count("from another message (a copy of this fire split again")
    print(
        f"ended={sum(done.values())} of {len(done)} fires, started again="
        f"{sum(again.values())} of {len(again)}, second copies refused={refused}"
    )
    assert splitter.returncode == DIED_MID_SPLIT
    assert len(found) == 10 and {r["outcome"] for r in found} == {"succeeded"}  # 0 lost
    assert len(done) == 10 and all(count == 1 for count in done.values()), done  # 0 doubled
    assert len(again) == 10 and all(count == 1 for count in again.values()), again
    assert all("redelivered" in r["output"] for r in found)
    # The attack happened: a second copy of a fire reached another worker, and was refused.
    assert refused >= 1


def test_broker_outage_misses_late_fires_with_reason_and_doubles_none(
    rabbit: Namespace, workdir: Path
) -> None:
    """The scheduler's connections to the broker are cut for 10 s under a steady load (a
    proxy between them: the shared broker itself keeps running for other tests)."""
    proxy = CuttableProxy()
    start, end = _window(22.0, lead=3.0)
    config = write_config(
        workdir,
        rabbit,
        "[job:append]\ntype = python\ncallable = rabbit_jobs:append\nschedule = every 100ms\n"
        f"start = {start}\nend = {end}\noverlap = allow\ncoalesce = false\n"
        "misfire_grace = 3s\n",
        url=proxy.url,
        state="success_history = 1000\nfailure_history = 1000",
    )
    # The workers read the same configuration, but reach the broker directly.
    direct = workdir / "direct.ini"
    direct.write_text(config.read_text().replace(proxy.url, BROKER_URL))
    workers = start_workers(direct, workdir, 8)
    scheduler = sts_command("run", str(config), cwd=workdir)
    out = workdir / "out.txt"
    try:
        wait_for(lambda: len(lines(out)) >= 30, "the first runs", 120)
        proxy.cut()
        cut_at = datetime.now(UTC)
        time.sleep(10.0)
        proxy.restore()
        wait_for(lambda: datetime.now(UTC).isoformat() > end, "the end of the window", 120)
        time.sleep(5.0)  # the last outcomes
    finally:
        stop([scheduler])
        stop(workers)
        proxy.close()
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    outcomes = Counter(str(r["outcome"]) for r in found)
    done = Counter(line.key for line in lines(out))
    doubled = sum(count - 1 for count in done.values())
    succeeded = {
        f"append@{datetime.fromisoformat(str(r['fire_time'])).astimezone(UTC).isoformat()}"
        for r in found
        if r["outcome"] == "succeeded"
    }
    missed = [r for r in found if r["outcome"] == "missed"]
    print(f"fires={len(found)} outcomes={dict(outcomes)} doubled={doubled} cut at {cut_at}")
    assert doubled == 0
    assert set(done) == succeeded  # every run recorded, every record ran
    assert set(outcomes) == {"succeeded", "missed"}, outcomes
    # Fires during the outage, beyond their 3 s grace, are missed with the reason...
    assert 40 <= len(missed) <= 110, len(missed)
    assert all("misfire_grace (3s)" in str(r["error"]) for r in missed), missed[0]["error"]
    # ... and the ones before the cut, and after the reconnection, ran.
    assert outcomes["succeeded"] >= 100


def test_kill_9_of_the_scheduler_mid_burst_and_a_restart(rabbit: Namespace, workdir: Path) -> None:
    start, end = _window(6.0, lead=3.0)
    config = write_config(
        workdir,
        rabbit,
        "[job:slow]\ntype = python\ncallable = rabbit_jobs:slow\nschedule = every 100ms\n"
        f"start = {start}\nend = {end}\noverlap = allow\ncoalesce = false\n"
        "misfire_grace = 60s\n",
        state="success_history = 1000\nfailure_history = 1000",
    )
    env = {"STS_TEST_SLOW": "1.5"}
    workers = start_workers(config, workdir, 20, env=env)
    first = sts_command("run", str(config), cwd=workdir, env=env)
    out = workdir / "out.txt"
    second = None
    try:
        wait_for(lambda: len(lines(out)) >= 15, "a burst under way", 120)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        under_way = {line.key for line in lines(out, "start")} - {line.key for line in lines(out)}
        time.sleep(1.0)
        second = sts_command("run", str(config), cwd=workdir, env=env)
        wait_for(lambda: datetime.now(UTC).isoformat() > end, "the end of the window", 120)
        time.sleep(5.0)  # the last outcomes
    finally:
        stop([p for p in (second,) if p is not None])
        stop(workers)
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    ended = Counter(line.key for line in lines(out))
    started = Counter(line.key for line in lines(out, "start"))

    def key(record: dict[str, object]) -> str:
        fire = datetime.fromisoformat(str(record["fire_time"])).astimezone(UTC).isoformat()
        return f"slow@{fire}"

    by_outcome: dict[str, set[str]] = {}
    for record in found:
        by_outcome.setdefault(str(record["outcome"]), set()).add(key(record))
    reconciled = [r for r in found if "reconciled" in r["output"]]
    print(
        f"fires={len(set(map(key, found)))} outcomes={ {k: len(v) for k, v in by_outcome.items()} }"
        f" under way at the kill={len(under_way)} reconciled={len(reconciled)}"
    )
    # No fire dispatched again: each started once (a redelivery would say so, and none
    # happened: no worker died).
    assert all(count == 1 for count in started.values()), started.most_common(3)
    assert all(count == 1 for count in ended.values())
    # Every run that ended has its outcome recorded (from the first scheduler, or, for the
    # ones under way at the kill, reconciled by the second when their outcomes arrived).
    assert set(ended) <= by_outcome.get("succeeded", set())
    # The ones under way at the kill are reconciled, and so may be a few that had just
    # ended: their outcome was on its way (workers send outcomes in batches) when the
    # first scheduler died, so it recorded them interrupted at the restart too.
    reconciled_keys = {key(r) for r in reconciled}
    assert under_way and under_way & set(ended) <= reconciled_keys <= set(ended)
    assert reconciled_keys <= by_outcome.get("interrupted", set())
    # Never two successes of one fire.
    successes = Counter(key(r) for r in found if r["outcome"] == "succeeded")
    assert all(count == 1 for count in successes.values()), successes.most_common(3)
    # Every fire has a record: none lost silently.
    assert set(started) <= set(map(key, found))
    assert set(by_outcome) <= {"succeeded", "interrupted"}


def test_the_schedulers_backstop_times_out_a_worker_that_went_silent(
    rabbit: Namespace, workdir: Path
) -> None:
    """A worker frozen mid-run (SIGSTOP: its connection stays open, so the broker does not
    redeliver) is timed out by the scheduler at timeout + backstop; the worker's own
    outcome, sent once it is thawed, is dropped as a duplicate."""
    at = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    config = write_config(
        workdir,
        rabbit,
        f"[job:slow]\ntype = python\ncallable = rabbit_jobs:slow\nschedule = at {at}\n"
        "timeout = 1s\nmisfire_grace = 60s\n",
    )
    env = {"STS_TEST_SLOW": "3"}
    worker = sts_command("worker", str(config), "--concurrency", "1", cwd=workdir, env=env)
    scheduler = sts_command("run", str(config), cwd=workdir, env=env)
    out = workdir / "out.txt"
    database = workdir / f"{sorted(rabbit.schedulers)[0]}.db"
    try:
        wait_for(lambda: len(lines(out, "start")) == 1, "the run to start", 120)
        os.kill(worker.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        log = next(workdir.glob("run-*.log"))
        wait_for(lambda: "the scheduler's backstop" in log.read_text(), "the backstop", 120)
        waited = time.monotonic() - stopped_at
        os.kill(worker.pid, signal.SIGCONT)
        wait_for(
            lambda: "timed out after 1s (on worker" in log.read_text()
            or "dropped an outcome" in log.read_text(),
            "the worker's own outcome",
            60,
        )
        time.sleep(1.0)
    finally:
        stop([scheduler])
        stop([worker])
    found = records(database)
    print(f"backstop fired {waited:.1f}s after the worker froze (timeout 1s + backstop 5s)")
    assert len(found) == 1, found
    assert found[0]["outcome"] == "timed_out"
    assert "within timeout (1s) + backstop (5s): the scheduler's backstop" in str(found[0]["error"])
    assert lines(out) == []  # the worker's run was cut short by its own timeout too


def test_a_poison_message_is_dead_lettered_after_the_delivery_limit(
    rabbit: Namespace, workdir: Path
) -> None:
    """A fire whose run kills every worker that takes it: the broker gives up on it after
    ``delivery_limit`` deliveries (dead-lettered, reason ``delivery_limit``) instead of
    killing workers forever; the scheduler records the attempt timed out at its backstop."""
    at = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    config = write_config(
        workdir,
        rabbit,
        f"[job:die]\ntype = python\ncallable = rabbit_jobs:die\nschedule = at {at}\n"
        "timeout = 2s\nmisfire_grace = 60s\n",
        extra="delivery_limit = 2",
    )
    scheduler = sts_command("run", str(config), cwd=workdir)
    out = workdir / "out.txt"
    workers = [sts_command("worker", str(config), cwd=workdir)]
    database = workdir / f"{sorted(rabbit.schedulers)[0]}.db"
    try:
        deadline = time.monotonic() + 120
        while asyncio.run(rabbit.dead_letter_count()) == 0:
            assert time.monotonic() < deadline, "the poison message was never dead-lettered"
            if workers[-1].poll() is not None:  # killed by the message: a new one comes up
                workers.append(sts_command("worker", str(config), cwd=workdir))
            time.sleep(0.2)
        log = next(workdir.glob("run-*.log"))
        wait_for(lambda: "the scheduler's backstop" in log.read_text(), "the backstop", 60)
    finally:
        stop([scheduler])
        stop(workers)
    (dead,) = asyncio.run(rabbit.dead_letters())
    deaths = (dead.headers or {}).get("x-death")
    assert isinstance(deaths, list) and deaths[0]["reason"] == "delivery_limit"
    assert len(lines(out, "start")) == 3  # the first delivery and 2 redeliveries
    (record,) = records(database)
    assert record["outcome"] == "timed_out" and "backstop" in str(record["error"])


def test_a_worker_cut_off_from_the_broker_reconnects_and_runs_nothing_twice(
    rabbit: Namespace, workdir: Path
) -> None:
    """The worker's connections are cut for 5 s while it runs fires: it reconnects, sends
    the outcomes it held, takes its redelivered fires back without running them again,
    and goes on with the ones queued meanwhile."""
    proxy = CuttableProxy()
    start, end = _window(10.0, lead=3.0)
    config = write_config(
        workdir,
        rabbit,
        "[job:slow]\ntype = python\ncallable = rabbit_jobs:slow\nschedule = every 200ms\n"
        f"start = {start}\nend = {end}\noverlap = allow\ncoalesce = false\n"
        "misfire_grace = 60s\n",
        state="success_history = 1000",
    )
    through_proxy = workdir / "worker.ini"
    through_proxy.write_text(config.read_text().replace(BROKER_URL, proxy.url))
    env = {"STS_TEST_SLOW": "1"}
    worker = sts_command("worker", str(through_proxy), "--concurrency", "20", cwd=workdir, env=env)
    scheduler = sts_command("run", str(config), cwd=workdir, env=env)
    out = workdir / "out.txt"
    try:
        wait_for(lambda: len(lines(out)) >= 5, "the first runs", 120)
        proxy.cut()
        time.sleep(5.0)
        proxy.restore()
        wait_for(lambda: datetime.now(UTC).isoformat() > end, "the end of the window", 120)
        fires = 0

        def settled() -> bool:
            nonlocal fires
            now = len(lines(out))
            settled_now, fires = now == fires, now
            return settled_now

        time.sleep(3.0)
        wait_for(settled, "the last runs", 120)
    finally:
        stop([scheduler])
        stop([worker])
        proxy.close()
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    ended = Counter(line.key for line in lines(out))
    started = Counter(line.key for line in lines(out, "start"))
    print(
        f"fires={len(found)} ran={len(ended)} started twice={sum(started.values()) - len(started)}"
    )
    assert {str(r["outcome"]) for r in found} == {"succeeded"}
    assert len(found) == len(ended) >= 40
    assert all(count == 1 for count in ended.values())
    assert all(count == 1 for count in started.values())
