"""Output: streamed to the log line by line, tagged; its tail kept; memory bounded."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import psutil
import pytest
from sts_shell import ShellTask
from sts_shell.output import LOG_LINE_LIMIT

import sts

RunJob = Callable[..., Coroutine[Any, Any, tuple[sts.RunRecord, list[sts.RunRecord]]]]

MIB = 1024 * 1024
# 100 MiB of 4 KiB lines, then a last line to find in the tail.
PRINT_100_MIB = (
    "import sys\n"
    "line = b'x' * 4095 + b'\\n'\n"
    "for _ in range(25600): sys.stdout.buffer.write(line)\n"
    "sys.stdout.buffer.write(b'THE END\\n')\n"
)


class CountingHandler(logging.Handler):
    """Counts log records and keeps only the first few: memory stays the command's."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0
        self.first: list[logging.LogRecord] = []
        self.last: logging.LogRecord | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        self.last = record
        if len(self.first) < 3:
            self.first.append(record)


@pytest.fixture
def counting_handler() -> Iterator[CountingHandler]:
    handler = CountingHandler()
    shell_logger = logging.getLogger("sts.shell")
    shell_logger.addHandler(handler)
    level, propagate = shell_logger.level, shell_logger.propagate
    shell_logger.setLevel(logging.INFO)
    # Not to pytest's capture too, which would keep every record (100 MiB of them).
    shell_logger.propagate = False
    yield handler
    shell_logger.removeHandler(handler)
    shell_logger.setLevel(level)
    shell_logger.propagate = propagate


def test_100_mib_of_output_keeps_the_tail_with_bounded_memory(
    run_job: RunJob, counting_handler: CountingHandler
) -> None:
    task = ShellTask([sys.executable, "-c", PRINT_100_MIB], output_limit="64KiB")
    me = psutil.Process()
    samples: list[int] = []

    async def sample_rss() -> None:
        while True:
            samples.append(me.memory_info().rss)
            await asyncio.sleep(0.01)

    async def main() -> sts.RunRecord:
        sampler = asyncio.create_task(sample_rss())
        try:
            record, _ = await run_job(task)
        finally:
            sampler.cancel()
        return record

    before = me.memory_info().rss
    record = asyncio.run(main())
    growth = max(samples) - before
    print(f"100 MiB of output: peak RSS growth {growth / MIB:.1f} MiB over {len(samples)} samples")
    assert record.outcome is sts.Outcome.SUCCEEDED, record.error
    assert growth < 20 * MIB
    total = 25600 * 4096 + len("THE END\n")
    kept = record.output["stdout"]
    header, tail = kept.split("\n", 1)
    assert header == f"[{total - 65536} earlier bytes not kept]"
    assert len(tail) == 65536
    assert tail.endswith("x" * 4095 + "\nTHE END\n")
    # The first MiB (log_limit) went to the log, tagged with the job and the run; the rest
    # is one line that says how much more there was.
    assert counting_handler.count == MIB // 4096 + 1
    assert counting_handler.last is not None
    assert counting_handler.last.getMessage() == (
        f"job={task.name} run={record.run_id} stdout: ... 99 MiB more not logged "
        f"(log_limit 1.0 MiB), kept the last 64 KiB in the run record"
    )
    first = counting_handler.first[0]
    assert first.getMessage() == f"job={task.name} run={record.run_id} stdout: {'x' * 4095}"
    assert (first.job, first.run_id, first.stream) == (task.name, record.run_id, "stdout")  # type: ignore[attr-defined]


def test_an_endless_line_goes_to_the_log_in_pieces(
    run_job: RunJob, counting_handler: CountingHandler
) -> None:
    script = "import sys; sys.stdout.write('y' * (1024 * 1024)); sys.stderr.write('no newline')"
    record, _ = asyncio.run(run_job(ShellTask([sys.executable, "-c", script])))
    assert counting_handler.count == MIB // LOG_LINE_LIMIT + 1
    assert record.output["stderr"] == "no newline"
    assert record.output["stdout"].endswith("y" * 65536)


def test_stdout_and_stderr_lines_are_logged_in_order_per_stream(
    run_job: RunJob, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sts.shell")
    task = ShellTask(["sh", "-c", "echo one; echo two; printf 'oops\\r\\n' >&2; printf tail"])
    record, _ = asyncio.run(run_job(task, name="greet"))
    lines = [r.getMessage() for r in caplog.records if r.name == "sts.shell"]
    tag = f"job=greet run={record.run_id}"
    assert [line for line in lines if "stdout" in line] == [
        f"{tag} stdout: one",
        f"{tag} stdout: two",
        f"{tag} stdout: tail",
    ]
    assert [line for line in lines if "stderr" in line] == [f"{tag} stderr: oops"]


def test_invalid_utf8_is_replaced_not_fatal(run_job: RunJob) -> None:
    record, _ = asyncio.run(run_job(ShellTask(["printf", "caf\\351\\n"])))
    assert record.outcome is sts.Outcome.SUCCEEDED
    assert record.output["stdout"] == "caf\ufffd\n"


def test_a_small_output_limit_keeps_only_the_last_bytes(run_job: RunJob) -> None:
    task = ShellTask(["sh", "-c", "echo 0123456789; exit 1"], output_limit=4)
    record, _ = asyncio.run(run_job(task))
    assert record.output["stdout"] == "[7 earlier bytes not kept]\n789\n"
