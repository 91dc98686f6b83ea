"""The distributed case (issue 16): STS with the ``rabbitmq`` executor and two
``sts worker`` processes, beside Celery on the same broker and machine with two
``celery worker`` processes, each fed one task per fire by a loop in this process.

Both get the same load: ``jobs`` fires due together every second for ``seconds`` seconds.
Each task appends its nominal fire time and its start time on the worker to a file;
from those: fires per second dispatched (by the scheduler, or the feeding loop) and
completed (by the workers), and the lateness from the nominal fire time to the task's
start on the worker (p50, p99, max). Lost = fires without a start line.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .measure import percentile

BROKER = os.environ.get("STS_BENCH_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")
WORKERS = 2

TASKS_MODULE = """
import os, time

OUT = os.environ["STS_BENCH_OUT"]


def _write(nominal, key):
    started = time.time()
    fd = os.open(OUT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{nominal!r}\\t{started!r}\\t{key}\\n".encode())
    finally:
        os.close(fd)


async def sts_record():
    import sts

    run = sts.current_run()
    _write(run.fire_time.timestamp(), run.idempotency_key)
"""

CELERY_APP = """
from celery import Celery

import bench_tasks

app = Celery("bench", broker="{broker}")
app.conf.update(
    task_default_queue="{queue}",
    worker_hijack_root_logger=False,
    task_acks_late=True,            # as STS: acked after the run, nothing lost on a crash
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)


@app.task(name="record")
def record(nominal, key):
    bench_tasks._write(nominal, key)
"""


#: ``STS_BENCH_PROFILE=DIR``: cProfile the STS scheduler and each worker into DIR
#: (``scheduler.prof``, ``worker-N.prof``), to see where a fire's CPU goes.
PROFILE = os.environ.get("STS_BENCH_PROFILE")


def _profiled(name: str) -> list[str]:
    """The interpreter options that profile a worker into ``PROFILE/<name>.prof``."""
    return ["-m", "cProfile", "-o", str(Path(PROFILE, f"{name}.prof"))] if PROFILE else []


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far (from /proc; 0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 of stat (utime, stime), counted after the command's ")".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _broker_pid() -> int | None:
    """The local RabbitMQ's Erlang VM (``beam.smp``), whose CPU the messages cost too."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if "(beam.smp)" in stat.read_text():
                return int(stat.parent.name)
        except OSError:
            continue
    return None


def _cpu_figures(
    figures: dict[str, Any], driver_s: float, workers_s: list[float], broker_s: float
) -> dict[str, Any]:
    """CPU per completed fire, load-proof (wall-clock rates on a busy box are not). The
    broker's is its whole VM's over the window: other users of the broker add to it."""
    completed = max(figures["completed"], 1)
    figures["driver_cpu_ms_per_fire"] = driver_s * 1000 / completed
    figures["worker_cpu_ms_per_fire"] = sum(workers_s) * 1000 / completed
    figures["broker_cpu_ms_per_fire"] = broker_s * 1000 / completed
    return figures


def _spawn(arguments: list[str], directory: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "STS_BENCH_OUT": str(directory / "out.txt"),
        "PYTHONPATH": os.pathsep.join([str(directory), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        arguments,
        cwd=directory,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=open(directory / f"{uuid.uuid4().hex[:6]}.log", "wb"),
        start_new_session=True,
    )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _read(path: Path) -> list[tuple[float, float, str]]:
    """(nominal fire time, start on the worker, the fire's key) per run."""
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        nominal, started, key = line.split("\t")
        runs.append((float(nominal), float(started), key))
    return runs


async def _wait_lines(path: Path, count: int, settle: float) -> None:
    """Until ``count`` lines are written, or none came for ``settle`` seconds."""
    seen, quiet_since = -1, time.monotonic()
    while True:
        now = len(_read(path))
        if now >= count:
            return
        if now != seen:
            seen, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since > settle:
            return
        await asyncio.sleep(0.2)


def _figures(
    runs: list[tuple[float, float, str]], fires: int, dispatch_s: float, first: float
) -> dict[str, Any]:
    late = sorted(max(0.0, started - nominal) * 1000 for nominal, started, _ in runs)
    last = max((started for _, started, _ in runs), default=first)
    keys = {key for _, _, key in runs}
    return {
        "fires": fires,
        "completed": len(runs),
        "lost": fires - len(keys),
        "doubled": len(runs) - len(keys),
        "dispatched_per_s": fires / dispatch_s if dispatch_s > 0 else float("nan"),
        "completed_per_s": len(runs) / max(last - first, 1e-9),
        "p50_ms": percentile(late, 0.5),
        "p99_ms": percentile(late, 0.99),
        "max_ms": late[-1] if late else float("nan"),
    }


async def distributed(
    contender: str, *, jobs: int, seconds: int, concurrency: int = 8, settle: float = 10.0
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sts-bench-distributed-") as scratch:
        directory = Path(scratch)
        (directory / "bench_tasks.py").write_text(TASKS_MODULE)
        if contender == "celery":
            return await _celery(directory, jobs, seconds, concurrency, settle)
        if contender == "sts":
            return await _sts(directory, jobs, seconds, concurrency, settle)
    raise ValueError(f"unknown contender {contender!r}: expected celery or sts")


async def _celery(
    directory: Path, jobs: int, seconds: int, concurrency: int, settle: float
) -> dict[str, Any]:
    queue = f"bench-celery-{uuid.uuid4().hex[:8]}"
    (directory / "bench_celery.py").write_text(CELERY_APP.format(broker=BROKER, queue=queue))
    sys.path.insert(0, str(directory))
    os.environ["STS_BENCH_OUT"] = str(directory / "out.txt")
    import bench_celery  # type: ignore[import-not-found]

    command = [sys.executable, "-m", "celery", "-A", "bench_celery", "worker", "--pool=threads"]
    command += [f"--concurrency={concurrency}", "--without-gossip", "--without-mingle", "-Q", queue]
    workers = [_spawn([*command, "-n", f"w{n}@%h"], directory) for n in range(WORKERS)]
    try:
        await asyncio.sleep(3.0)  # the workers connect and declare the queue
        record = bench_celery.record
        record.delay(0.0, "warm-up")  # the feeding side connects before the clock starts
        driver_cpu = time.process_time()
        workers_cpu = [_cpu_seconds(worker.pid) for worker in workers]
        broker = _broker_pid()
        broker_cpu = 0.0 if broker is None else _cpu_seconds(broker)
        start = time.time() + 1.0
        first = start
        dispatch = 0.0
        for second in range(seconds):
            nominal = start + second
            await asyncio.sleep(max(0.0, nominal - time.time()))
            began = time.perf_counter()
            for number in range(jobs):
                record.delay(nominal, f"{second}:{number}")  # one task per fire
            dispatch += time.perf_counter() - began
        await _wait_lines(directory / "out.txt", jobs * seconds + 1, settle)
        driver_cpu = time.process_time() - driver_cpu
        workers_cpu = [
            _cpu_seconds(w.pid) - cpu for w, cpu in zip(workers, workers_cpu, strict=True)
        ]
        broker_cpu = 0.0 if broker is None else _cpu_seconds(broker) - broker_cpu
        runs = [run for run in _read(directory / "out.txt") if run[2] != "warm-up"]
        figures = _figures(runs, jobs * seconds, dispatch, first)
        figures["messages_per_fire"] = 1.0  # one task message per fire
        return _cpu_figures(figures, driver_cpu, workers_cpu, broker_cpu)
    finally:
        _stop(workers)
        _delete_queue(queue)


def _delete_queue(queue: str) -> None:
    async def delete() -> None:
        import aio_pika

        connection = await aio_pika.connect(BROKER)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(delete())
        return
    # Called from the event loop: on a thread of its own.
    import threading

    thread = threading.Thread(target=asyncio.run, args=(delete(),))
    thread.start()
    thread.join()


async def _sts(
    directory: Path, jobs: int, seconds: int, concurrency: int, settle: float
) -> dict[str, Any]:
    import sts

    prefix = f"bench-sts-{uuid.uuid4().hex[:8]}"
    start = time.time() + 6.0  # the workers start and connect first
    # Each job fires every second from start + 1s: `jobs` fires due together.
    window = (
        f"start = {datetime.fromtimestamp(start, UTC).isoformat()}\n"
        f"end = {datetime.fromtimestamp(start + seconds + 0.5, UTC).isoformat()}\n"
    )
    lines = [
        "[scheduler]\nname = bench\nexecutor = rabbitmq\nloop_block_threshold = none\n",
        "[logging]\nlevel = WARNING\n",  # as Celery's workers here: no line per run
        f"[rabbitmq]\nurl = {BROKER}\nprefix = {prefix}\n",
    ]
    for number in range(jobs):
        lines.append(
            f"[job:j{number}]\ntype = python\ncallable = bench_tasks:sts_record\n"
            f"schedule = every 1s\n{window}overlap = allow\n"
        )
    config = directory / "sts.ini"
    config.write_text("".join(lines))
    os.environ["STS_BENCH_OUT"] = str(directory / "out.txt")
    sys.path.insert(0, str(directory))
    worker = ["-m", "sts", "worker", str(config), f"--concurrency={concurrency}"]
    workers = [
        _spawn(
            [sys.executable, *_profiled(f"worker-{number}"), *worker],
            directory,
        )
        for number in range(WORKERS)
    ]
    scheduler = sts.TaskScheduler.from_config(config, store=sts.MemoryStore())
    profile = cProfile.Profile() if PROFILE else None
    try:
        async with scheduler:
            # From here on, the CPU of this process is the scheduler's.
            await asyncio.sleep(max(0.0, start - 0.5 - time.time()))
            driver_cpu = time.process_time()
            workers_cpu = [_cpu_seconds(worker.pid) for worker in workers]
            broker = _broker_pid()
            broker_cpu = 0.0 if broker is None else _cpu_seconds(broker)
            if profile is not None:
                profile.enable()
            await asyncio.sleep(max(0.0, start + seconds + 1.0 - time.time()))
            await _wait_lines(directory / "out.txt", jobs * seconds, settle)
            if profile is not None:
                profile.disable()
                profile.dump_stats(Path(PROFILE or ".", "scheduler.prof"))
            driver_cpu = time.process_time() - driver_cpu
            workers_cpu = [
                _cpu_seconds(w.pid) - cpu for w, cpu in zip(workers, workers_cpu, strict=True)
            ]
            broker_cpu = 0.0 if broker is None else _cpu_seconds(broker) - broker_cpu
            executor: Any = await scheduler.executors.get("rabbitmq")
            dispatched = executor.counts["dispatched"]
            counts = dict(executor.counts)
        runs = _read(directory / "out.txt")
        figures = _figures(runs, dispatched, float(seconds), start + 1.0)
        _cpu_figures(figures, driver_cpu, workers_cpu, broker_cpu)
        # Dispatched per second: the scheduler publishes as the fires fall due.
        figures["dispatched_per_s"] = dispatched / seconds
        # The messages the fires went in (several fires due together share one).
        figures["messages_per_fire"] = counts.get("fire_messages", dispatched) / max(dispatched, 1)
        figures["republished"] = counts["publish_retries"]
        figures["claims_refused"] = counts["claims_refused"]
        return figures
    finally:
        _stop(workers)
        await _delete_sts(prefix)


async def _delete_sts(prefix: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(BROKER)
    async with connection:
        for queue in (f"{prefix}.fires.default", f"{prefix}.outcomes.bench", f"{prefix}.dead"):
            channel = await connection.channel()
            try:
                await channel.queue_delete(queue)
            except Exception:  # never declared
                continue
        for exchange in (f"{prefix}.fires", f"{prefix}.dead"):
            channel = await connection.channel()
            try:
                await channel.exchange_delete(exchange)
            except Exception:
                continue
