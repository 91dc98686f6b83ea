"""A third round of attacks on "nothing lost, nothing run twice" (issue 16): fires that
wait for a worker's slot longer than their timeout + backstop, hostile messages
published live by a foreign client onto the queues STS reads, two workers with one
identity, a takeover while the scheduler itself is cut off; and two that hold: the
scheduler killed during a broker restart, every connection closed again and again,
retries with backoff across a worker kill; and a fourth round's: an attempt cancelled by
a stop, or killed and found interrupted two restarts before its outcome comes, recorded
once.
Real processes on the real broker; every fire counted (lost and doubled must be 0)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import pytest
from rabbit_helpers import (
    BROKER_URL,
    CuttableProxy,
    Namespace,
    burst_jobs,
    fire_key,
    lines,
    recorded_count,
    records,
    seconds_from_now,
    start_workers,
    stop,
    sts_command,
    wait_for,
    write_config,
)

from sts.testing import require

pytestmark = pytest.mark.slow


def test_fires_waiting_for_a_slot_past_timeout_and_backstop_still_run(
    rabbit: Namespace, workdir: Path
) -> None:
    """12 fires due at once on the only worker, at concurrency 2: 3-s runs in 6 rounds
    (18 s), each well within its ``timeout`` (4 s). The worker claims all 12 at once and
    holds them, alive, renewing its holds; those of the 4th round on wait for a slot
    longer than ``timeout + backstop`` (4 + 5 s) after their grant. Nothing failed:
    every fire must run once and be recorded ``succeeded``, not ``timed_out`` by the
    scheduler's backstop (which then refuses the run: the fire is lost)."""
    config = write_config(
        workdir, rabbit, burst_jobs(12, seconds_from_now(4), "misfire_grace = 60s\ntimeout = 4s\n")
    )
    env = {"STS_TEST_SLOW": "3"}
    worker = sts_command("worker", str(config), "--concurrency", "2", cwd=workdir, env=env)
    scheduler = sts_command("run", str(config), cwd=workdir, env=env)
    state = workdir / f"{sorted(rabbit.schedulers)[0]}.db"
    out = workdir / "out.txt"
    try:
        wait_for(lambda: recorded_count(state) >= 12, "every fire's record", 120)
        time.sleep(2.0)  # a run refused or run twice would show by now
    finally:
        stop([scheduler])
        stop([worker])
    found = records(state)
    started = Counter(line.key for line in lines(out, "start"))
    ended = Counter(line.key for line in lines(out))
    outcomes = Counter(str(r["outcome"]) for r in found)
    lost = 12 - len({fire_key(r) for r in found if r["outcome"] == "succeeded"})
    doubled = sum(count - 1 for count in started.values())
    print(f"records={dict(outcomes)} ran={len(ended)} lost={lost} started twice={doubled}")
    assert doubled == 0, started.most_common(3)
    assert lost == 0, [r["error"] for r in found if r["outcome"] != "succeeded"][:2]
    assert len(found) == 12 and len(ended) == 12


def _fire(job: str, fire_time: str, scheduler: str, **changes: object) -> bytes:
    """A fire as STS writes it (``changes`` replace its fields)."""
    data: dict[str, object] = {
        "v": 1,
        "run_id": "forged",
        "job": job,
        "fire_time": fire_time,
        "attempt": 1,
        "manual": False,
        "digest": "0" * 16,
        "scheduler": scheduler,
        "start_deadline": None,
        **changes,
    }
    return json.dumps(data).encode()


#: JSON that Python's json module cannot read with a ValueError of its own (an integer of
#: more than 4,300 digits), or at all (nested past the recursion limit).
_DIGITS = b'{"v": 1, "attempt": ' + b"7" * 5000 + b"}"
_NESTED = b"[" * 100_000


def _hostile_fires(scheduler: str, outcomes: str, claims: str) -> list[aio_pika.Message]:
    """Messages no STS scheduler wrote, on a pool's queue: each must be dead-lettered with
    its reason (or refused by the scheduler), and none may hold a worker's slot."""
    far = "9999-12-31T23:00:00-14:00"  # a time that overflows once made UTC
    now = datetime.now(UTC).isoformat()
    replying = {"reply_to": outcomes, "headers": {"x-sts-claims": claims}}
    bodies: list[tuple[bytes, dict[str, object]]] = [
        (b"not JSON", {}),
        (b"[1, 2]", {}),
        (_fire("j", now, scheduler, attempt="one"), replying),
        (_DIGITS, replying),
        (_NESTED, replying),
        (_fire("ghost", now, scheduler), {}),  # no reply_to: nobody to claim it from
        (_fire("ghost", far, scheduler), replying),
        (b'{"v": 1, "pad": "' + b"x" * 4_000_000 + b'"}', replying),  # a huge body
        (
            _fire("ghost", now, scheduler),
            {
                "reply_to": outcomes,
                "message_id": "append@" + now,  # a forged id
                "headers": {"x-sts-claims": 42, "x-sts-message": [1, 2], "x-sts-redelivered": "no"},
            },
        ),
    ]
    return [aio_pika.Message(body, **options) for body, options in bodies]  # type: ignore[arg-type]


def _hostile_reports() -> list[aio_pika.Message]:
    """Messages no STS worker wrote, on the scheduler's claims and outcomes queues."""
    outcome = {
        "kind": "outcome",
        "key": "ghost@not a time",
        "attempt": 1,
        "run_id": "forged",
        "worker": "forger:1",
        "outcome": "succeeded",
    }
    bodies = [
        b"not JSON",
        b"[]",
        _DIGITS,
        _NESTED,
        json.dumps({"v": 1, "batch": [outcome]}).encode(),  # a key that is no attempt's
        json.dumps({"v": 1, "batch": [{**outcome, "retry_after": 10**400}]}).encode(),
        json.dumps({"v": 1, "batch": [{**outcome, "kind": "claim", "attempt": "1"}]}).encode(),
        json.dumps({"v": 1, "batch": [{**outcome, "kind": "hold", "started_at": 5}]}).encode(),
    ]
    return [aio_pika.Message(body, reply_to="sts-test-nowhere") for body in bodies]


#: How many times the foreign client publishes its messages: 20 of them could hold a
#: worker's slot, more than the two workers' prefetch (16).
ROUNDS = 5


def test_hostile_messages_from_a_foreign_client_stop_nothing(
    rabbit: Namespace, workdir: Path
) -> None:
    """A job fires every 100 ms for 10 s on two workers of concurrency 2 (16 fire messages
    held at most between them). Mid-way, a foreign client publishes, five times over,
    messages no STS process wrote: onto the pool's queue (not JSON, wrong types, JSON
    Python reads with an error of its own, no reply_to, a fire time out of range, a 4 MB
    body, headers of the wrong types and a forged message id), and onto the scheduler's
    claims and outcomes queues. Every real fire must still run once and be recorded
    ``succeeded``; each bad fire message is dead-lettered with its reason; the scheduler
    logs each bad report once, and does not loop on it."""
    start = datetime.now(UTC) + timedelta(seconds=4)
    end = start + timedelta(seconds=10)
    name = rabbit.scheduler_name()
    config = write_config(
        workdir,
        rabbit,
        "[job:append]\ntype = python\ncallable = rabbit_jobs:append\nschedule = every 100ms\n"
        f"start = {start.isoformat()}\nend = {end.isoformat()}\noverlap = allow\n"
        "coalesce = false\nmisfire_grace = 3s\n",
        scheduler=name,
        state="success_history = 1000\nfailure_history = 1000",
    )
    workers = [
        sts_command("worker", str(config), "--concurrency", "2", cwd=workdir) for _ in range(2)
    ]
    scheduler = sts_command("run", str(config), cwd=workdir)
    out = workdir / "out.txt"
    outcomes, claims = f"{rabbit.prefix}.outcomes.{name}", f"{rabbit.prefix}.claims.{name}"
    bad_fires = 0

    async def publish() -> None:
        nonlocal bad_fires
        connection = await aio_pika.connect(BROKER_URL)
        async with connection:
            channel = await connection.channel()
            fires = await channel.get_exchange(f"{rabbit.prefix}.fires", ensure=False)
            for message in _hostile_fires(name, outcomes, claims):
                await fires.publish(message, routing_key="default")
                bad_fires += 1
            for message in _hostile_reports():
                for queue in (claims, outcomes):
                    await channel.default_exchange.publish(message, routing_key=queue)

    try:
        wait_for(lambda: len(lines(out)) >= 10, "the first runs", 120)
        for _ in range(ROUNDS):
            asyncio.run(publish())
            time.sleep(1.0)
        wait_for(lambda: datetime.now(UTC) > end, "the end of the window", 120)
        time.sleep(4.0)  # the last outcomes, and past the grace of the last fires
    finally:
        stop([scheduler])
        stop(workers)
    found = records(workdir / f"{name}.db")
    outcomes_found = Counter(str(r["outcome"]) for r in found)
    ended = Counter(line.key for line in lines(out))
    doubled = sum(count - 1 for count in ended.values())
    real = {fire_key(r) for r in found if r["job"] == "append"}
    lost = len(real - {fire_key(r) for r in found if r["outcome"] == "succeeded"})
    dead = asyncio.run(rabbit.dead_letters())
    reasons = Counter(
        str((m.headers or {}).get("x-sts-reason", "(broker) x-death"))[:40] for m in dead
    )
    log = next(workdir.glob("run-*.log")).read_text()
    looped = log.count("failed to handle a message from a worker")
    stuck = [w for w in workers if w.returncode not in (0, None)]
    print(
        f"fires={len(real)} records={dict(outcomes_found)} lost={lost} doubled={doubled} "
        f"bad fire messages={bad_fires} dead-lettered={len(dead)} {dict(reasons)} "
        f"scheduler handling failures logged={looped}"
    )
    assert not stuck
    assert len(real) >= 80  # the window's fires
    assert doubled == 0 and lost == 0, outcomes_found
    assert {r["job"] for r in found} == {"append"}  # no record made up from a forged one
    assert set(ended) == real
    # Each bad fire message dead-lettered with its reason, but the one of a job the
    # scheduler never fired: its claim refused, it is dropped.
    assert len(dead) >= bad_fires - ROUNDS, reasons
    assert looped <= ROUNDS * 2 * len(_hostile_reports()), looped


#: Each worker as pid 1 of a PID namespace of its own, as in containers (Docker with
#: ``--network host``, Kubernetes' ``hostNetwork``): one host name, one pid, so one
#: ``host:pid`` identity for both.
_PID_1 = ("unshare", "--pid", "--fork")


def _namespaces() -> bool:
    try:
        return subprocess.run([*_PID_1, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _stop_group(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each process group (``unshare`` does not pass signals on), SIGKILL
    after 30 s."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_two_workers_with_one_identity_run_no_fire_twice(rabbit: Namespace, workdir: Path) -> None:
    """Two workers, each pid 1 of its own PID namespace on this host: both are
    ``host:1``. Six 6-s fires due 0.3 s apart (a message each) go to both; then the
    connections of one of them are cut for 2 s (a proxy), so the broker hands its fires
    to the other, which claims them. The first runs on, reconnects and renews its holds:
    the other must be told to wait and then refused, as it is when the two are named
    apart, not taken for the holder asking again (it runs the fire a second time)."""
    # Skipped with its reason on a developer's machine; under CI=true (root) it fails.
    require(_namespaces(), "needs root for unshare --pid --fork (a PID namespace per worker)")
    proxy = CuttableProxy()
    start = datetime.now(UTC) + timedelta(seconds=5)
    jobs = "".join(
        f"[job:j{number}]\ntype = python\ncallable = rabbit_jobs:slow\n"
        f"schedule = at {(start + timedelta(seconds=0.3 * number)).isoformat()}\n"
        "misfire_grace = 60s\ntimeout = 30s\n"
        for number in range(6)
    )
    config = write_config(workdir, rabbit, jobs)
    through_proxy = workdir / "cut.ini"
    through_proxy.write_text(config.read_text().replace(BROKER_URL, proxy.url))
    env = {"STS_TEST_SLOW": "6"}
    cut = sts_command(
        "worker", str(through_proxy), "--concurrency", "4", cwd=workdir, env=env, wrapper=_PID_1
    )
    other = sts_command(
        "worker", str(config), "--concurrency", "4", cwd=workdir, env=env, wrapper=_PID_1
    )
    scheduler = sts_command("run", str(config), cwd=workdir, env=env)
    out = workdir / "out.txt"
    try:
        wait_for(lambda: len(lines(out, "start")) >= 6, "the 6 runs", 120)
        time.sleep(0.5)
        proxy.cut()
        time.sleep(2.0)
        proxy.restore()
        wait_for(lambda: len({line.key for line in lines(out)}) >= 6, "every fire to end", 60)
        time.sleep(7.0)  # a fire started twice would have ended by now too
    finally:
        stop([scheduler])
        _stop_group([cut, other])
        proxy.close()
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    started = Counter(line.key for line in lines(out, "start"))
    doubled = sum(count - 1 for count in started.values())
    identities = {line.worker for line in lines(out, "start")}
    logs = "".join(path.read_text() for path in workdir.glob("worker-*.log"))
    refused = logs.count("dropped job=")  # the copies handed to the other worker
    print(
        f"identities={sorted(identities)} started twice={doubled} refused={refused} "
        f"records={dict(Counter(str(r['outcome']) for r in found))}"
    )
    assert len(identities) == 1 and next(iter(identities)).endswith(":1")
    assert doubled == 0, started.most_common(3)
    assert len(found) == 6 and {r["outcome"] for r in found} == {"succeeded"}
    assert refused >= 1  # the attack happened: the other worker got the cut one's fires


def test_the_scheduler_killed_during_a_broker_restart_and_restarted_runs_no_fire_twice(
    rabbit: Namespace, workdir: Path
) -> None:
    """20 fires due at once on two workers of concurrency 4 (4-s runs: 8 under way, 12
    granted or queued). The broker's application is stopped; while it is down the
    scheduler is killed (-9); the broker is started again and then the scheduler. No fire
    may start twice; every fire has a record (the new scheduler records the attempts it
    finds in flight ``interrupted``), and every run that ended has its outcome recorded
    (``succeeded``, reconciled: sent during the outage, it reached the new scheduler)."""
    config = write_config(
        workdir, rabbit, burst_jobs(20, seconds_from_now(4), "misfire_grace = 60s\ntimeout = 60s\n")
    )
    env = {"STS_TEST_SLOW": "4"}
    workers = [
        sts_command("worker", str(config), "--concurrency", "4", cwd=workdir, env=env)
        for _ in range(2)
    ]
    first = sts_command("run", str(config), cwd=workdir, env=env)
    out = workdir / "out.txt"
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: len(lines(out, "start")) >= 8, "the first runs", 120)
        time.sleep(1.0)
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)
        try:
            time.sleep(2.0)
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
            time.sleep(4.0)  # runs end meanwhile: their outcomes wait for the broker
        finally:
            subprocess.run(
                ["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120
            )
        second = sts_command("run", str(config), cwd=workdir, env=env)
        started_then = len(lines(out, "start"))

        def settled() -> bool:
            ended = {line.key for line in lines(out)}
            return {line.key for line in lines(out, "start")} <= ended

        wait_for(settled, "every run started to end", 120)
        time.sleep(8.0)  # claims asked again, outcomes sent again, a second start ended
    finally:
        stop([p for p in (second,) if p is not None])
        stop(workers)
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    started = Counter(line.key for line in lines(out, "start"))
    ended = {line.key for line in lines(out)}
    doubled = sum(count - 1 for count in started.values())
    outcomes = Counter(str(r["outcome"]) for r in found)
    succeeded = Counter(fire_key(r) for r in found if r["outcome"] == "succeeded")
    recorded = {fire_key(r) for r in found}
    print(
        f"started={len(started)} (at the restart {started_then}) started twice={doubled} "
        f"ended={len(ended)} records={dict(outcomes)} fires recorded={len(recorded)}"
    )
    assert doubled == 0, started.most_common(3)
    assert len(recorded) == 20  # no fire without a record
    assert ended <= set(succeeded), sorted(ended - set(succeeded))  # no run unrecorded
    assert all(count == 1 for count in succeeded.values())
    assert set(outcomes) <= {"succeeded", "interrupted"}, outcomes


def test_a_takeover_does_not_count_the_schedulers_own_cut_as_the_holders_silence(
    rabbit: Namespace, workdir: Path
) -> None:
    """A fire runs (14 s) on worker A; worker B joins. A's connections are cut for 1 s:
    the broker hands the fire to B, whose claim is told to wait (A may live). Then the
    scheduler's own connections are cut for 7 s (a blip, the broker closing every
    connection): A reconnects at once and renews its hold, but the holds are lost with
    the scheduler's claims queue. When the scheduler is back, B's next claim must still
    wait for A's next hold, not take the fire over on a silence the scheduler did not
    hear: A ran it all along."""
    to_scheduler, to_holder = CuttableProxy(), CuttableProxy()
    config = write_config(
        workdir, rabbit, burst_jobs(1, seconds_from_now(4), "misfire_grace = 60s\ntimeout = 60s\n")
    )
    scheduler_config, holder_config = workdir / "scheduler.ini", workdir / "holder.ini"
    scheduler_config.write_text(config.read_text().replace(BROKER_URL, to_scheduler.url))
    holder_config.write_text(config.read_text().replace(BROKER_URL, to_holder.url))
    env = {"STS_TEST_SLOW": "14"}
    holder = sts_command("worker", str(holder_config), "--concurrency", "4", cwd=workdir, env=env)
    scheduler = sts_command("run", str(scheduler_config), cwd=workdir, env=env)
    out = workdir / "out.txt"
    others: list[subprocess.Popen[bytes]] = []
    try:
        wait_for(lambda: len(lines(out, "start")) == 1, "the run on the holder", 120)
        # Asking again every 0.1 s, the other worker's claim is the first word the
        # scheduler hears when it is back (before the holder's next hold, within 1 s).
        eager = workdir / "eager.ini"
        eager.write_text(config.read_text().replace("claim_timeout = 2s", "claim_timeout = 0.1s"))
        other = sts_command("worker", str(eager), "--concurrency", "4", cwd=workdir, env=env)
        others.append(other)
        wait_for(
            lambda: any(f":{other.pid}: consuming" in p.read_text() for p in workdir.glob("*.log")),
            "the other worker to consume",
            60,
        )
        to_holder.cut()
        time.sleep(0.7)  # the fire handed to the other worker, its claim told to wait
        to_scheduler.cut()
        time.sleep(0.3)
        to_holder.restore()
        time.sleep(6.7)
        to_scheduler.restore()
        wait_for(lambda: len(lines(out)) >= 1, "the run to end", 60)
        time.sleep(3.0)
        wait_for(lambda: len(lines(out)) >= len(lines(out, "start")), "a second run to end", 60)
    finally:
        stop([scheduler])
        stop([holder, *others])
        to_scheduler.close()
        to_holder.close()
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    starts = lines(out, "start")
    print(
        f"started {len(starts)} time(s): {[line.worker for line in starts]} "
        f"records={[(r['outcome'], r['output'].get('worker')) for r in found]}"
    )
    assert len(starts) == 1, starts
    assert len(found) == 1 and found[0]["outcome"] == "succeeded", found
    # The attack happened: the other worker got the fire, and was refused in the end.
    logs = [p.read_text() for p in workdir.glob("worker-*.log")]
    (log,) = [text for text in logs if f":{others[0].pid}: consuming" in text]
    assert "dropped job=j00 attempt=1: this attempt is recorded already" in log


def test_every_connection_closed_by_the_broker_again_and_again_mid_burst(
    rabbit: Namespace, workdir: Path
) -> None:
    """A job fires every 100 ms for 8 s (1-s runs) on two workers of concurrency 8; four
    times, 1.5 s apart, the broker closes every connection of its vhost (``rabbitmqctl
    close_all_connections``): the scheduler's, the workers'. Each reconnects; fires are
    handed out again, holds and claims lost. No fire may start twice, none be lost."""
    start = datetime.now(UTC) + timedelta(seconds=4)
    end = start + timedelta(seconds=8)
    config = write_config(
        workdir,
        rabbit,
        "[job:slow]\ntype = python\ncallable = rabbit_jobs:slow\nschedule = every 100ms\n"
        f"start = {start.isoformat()}\nend = {end.isoformat()}\noverlap = allow\n"
        "coalesce = false\nmisfire_grace = 60s\ntimeout = 30s\n",
        state="success_history = 1000\nfailure_history = 1000",
    )
    env = {"STS_TEST_SLOW": "1"}
    workers = [
        sts_command("worker", str(config), "--concurrency", "8", cwd=workdir, env=env)
        for _ in range(2)
    ]
    scheduler = sts_command("run", str(config), cwd=workdir, env=env)
    out = workdir / "out.txt"
    try:
        wait_for(lambda: len(lines(out)) >= 10, "the first runs", 120)
        for _ in range(4):
            subprocess.run(
                ["rabbitmqctl", "close_all_connections", "--vhost", "/", "attack 16"],
                check=True,
                capture_output=True,
                timeout=60,
            )
            time.sleep(1.5)
        wait_for(lambda: datetime.now(UTC) > end, "the end of the window", 120)
        count = 0

        def settled() -> bool:
            nonlocal count
            now = len(lines(out, "start")) + len(lines(out))
            settled_now, count = now == count, now
            return settled_now and len(lines(out)) >= len(lines(out, "start"))

        time.sleep(3.0)
        wait_for(settled, "the last runs", 120)
        time.sleep(6.0)  # a takeover comes 5 s after its first claim
    finally:
        stop([scheduler])
        stop(workers)
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    started = Counter(line.key for line in lines(out, "start"))
    ended = Counter(line.key for line in lines(out))
    outcomes = Counter(str(r["outcome"]) for r in found)
    doubled = sum(count - 1 for count in started.values())
    lost = len(
        {fire_key(r) for r in found} - {fire_key(r) for r in found if r["outcome"] == "succeeded"}
    )
    print(f"fires={len(found)} records={dict(outcomes)} started twice={doubled} lost={lost}")
    assert doubled == 0, started.most_common(3)
    assert lost == 0 and set(outcomes) == {"succeeded"}, outcomes
    assert len(found) >= 70 and set(ended) == {fire_key(r) for r in found}


def test_retries_with_backoff_across_a_worker_kill(rabbit: Namespace, workdir: Path) -> None:
    """8 fires due at once whose first attempt fails (retries = 2, backoff 1 s) and whose
    second runs 4 s, on two workers; the worker with the most second attempts under way
    is killed (-9) one second into them. Each fire: attempt 1 recorded failed once, its
    attempt 2 taken over by the other worker and recorded succeeded once, no attempt 3,
    and nothing started again but the runs the kill cut short."""
    jobs = "".join(
        f"[job:f{number}]\ntype = python\ncallable = rabbit_jobs:flaky\n"
        f"schedule = at {seconds_from_now(4)}\n"
        "misfire_grace = 60s\ntimeout = 20s\nretries = 2\nbackoff = 1s\nbackoff_jitter = 0\n"
        for number in range(8)
    )
    config = write_config(workdir, rabbit, jobs)
    workers = [
        sts_command("worker", str(config), "--concurrency", "8", cwd=workdir) for _ in range(2)
    ]
    scheduler = sts_command("run", str(config), cwd=workdir)
    out = workdir / "out.txt"

    def seconds() -> list[str]:
        return [line.worker for line in lines(out, "start") if line.attempt == 2]

    try:
        wait_for(lambda: len(seconds()) >= 8, "the second attempts", 120)
        time.sleep(1.0)
        by_worker = Counter(worker.rpartition(":")[2] for worker in seconds())
        victim = next(w for w in workers if str(w.pid) == by_worker.most_common(1)[0][0])
        cut_short = {
            line.key
            for line in lines(out, "start")
            if line.attempt == 2 and line.worker.endswith(f":{victim.pid}")
        }
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        wait_for(lambda: len(lines(out)) >= 8, "every second attempt to end", 60)
        time.sleep(2.0)
    finally:
        stop([scheduler])
        stop(workers)
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    by_attempt = Counter((str(r["outcome"]), int(str(r["attempt"]))) for r in found)
    started = Counter((line.key, line.attempt) for line in lines(out, "start"))
    again = {key for (key, attempt), count in started.items() if count > 1}
    print(
        f"killed with {len(cut_short)} second attempts under way; records={dict(by_attempt)} "
        f"started twice={len(again)} (cut short by the kill: {len(again & cut_short)})"
    )
    assert by_attempt == {("failed", 1): 8, ("succeeded", 2): 8}, by_attempt
    assert again <= cut_short and all(count <= 2 for count in started.values())
    assert all(count == 1 for (_, attempt), count in started.items() if attempt == 1)
    assert len(lines(out)) == 8  # each second attempt ended once
    assert all(
        "redelivered" in r["output"]
        for r in found
        if fire_key(r) in cut_short and r["attempt"] == 2
    )


def _attempt_records(state: Path, job: str) -> list[str]:
    return [str(r["outcome"]) for r in records(state) if r["job"] == job and r["attempt"] == 1]


def _logged(workdir: Path, text: str) -> bool:
    return any(text in log.read_text(errors="replace") for log in workdir.glob("run-*.log"))


def _one_long_attempt(
    rabbit: Namespace, workdir: Path
) -> tuple[Path, dict[str, str], Path, Path, subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    """A job of one 14-s run due in 4 s, one worker and a scheduler started: the config,
    the environment, the state file, the jobs' output file and the two processes."""
    config = write_config(
        workdir,
        rabbit,
        f"[job:long]\ntype = python\ncallable = rabbit_jobs:slow\n"
        f"schedule = at {seconds_from_now(4)}\nmisfire_grace = 60s\n",
    )
    env = {"STS_TEST_SLOW": "14"}
    state = workdir / f"{sorted(rabbit.schedulers)[0]}.db"
    (worker,) = start_workers(config, workdir, 2, count=1, env=env)
    first = sts_command("run", str(config), cwd=workdir, env=env)
    return config, env, state, workdir / "out.txt", worker, first


def test_an_attempt_cancelled_by_a_stop_is_not_recorded_again_when_its_outcome_comes(
    rabbit: Namespace, workdir: Path
) -> None:
    """The scheduler stopped (SIGTERM) while a worker runs a 14-s attempt: past its
    stop_grace (5 s) it records the attempt cancelled; the worker runs on. Restarted, it
    gets the worker's outcome: the attempt keeps its one record (it was recorded twice,
    cancelled then reconciled)."""
    config, env, state, out, worker, first = _one_long_attempt(rabbit, workdir)
    second = None
    try:
        wait_for(lambda: len(lines(out, "start")) == 1, "the attempt's start", 60)
        stop([first])  # waits its stop_grace, then records the attempt cancelled
        second = sts_command("run", str(config), cwd=workdir, env=env)
        wait_for(lambda: len(lines(out)) == 1, "the attempt's end on the worker", 60)
        wait_for(lambda: _logged(workdir, "dropped a late outcome"), "the late outcome", 30)
    finally:
        stop([p for p in (second,) if p is not None])
        stop([worker])
    assert _attempt_records(state, "long") == ["cancelled"]


def test_a_late_outcome_two_restarts_after_a_kill_is_recorded_once(
    rabbit: Namespace, workdir: Path
) -> None:
    """The scheduler killed (-9) while a worker runs a 14-s attempt; the next start
    records it interrupted and is stopped; the worker's outcome reaches the start after:
    recorded, once (the withdrawn in-memory fix lost it here)."""
    config, env, state, out, worker, first = _one_long_attempt(rabbit, workdir)
    third = None
    try:
        wait_for(lambda: len(lines(out, "start")) == 1, "the attempt's start", 60)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        second = sts_command("run", str(config), cwd=workdir, env=env)
        wait_for(lambda: _logged(workdir, "run interrupted by the previous process"), "it", 30)
        stop([second])
        third = sts_command("run", str(config), cwd=workdir, env=env)
        wait_for(lambda: len(lines(out)) == 1, "the attempt's end on the worker", 60)
        wait_for(lambda: recorded_count(state) >= 2, "the late outcome's record", 30)
        time.sleep(2)  # a second copy of the outcome, if any, has come by now
    finally:
        stop([p for p in (third,) if p is not None])
        stop([worker])
    assert _attempt_records(state, "long") == ["interrupted", "succeeded"]
    assert len(lines(out, "start")) == 1  # run once: never dispatched again
