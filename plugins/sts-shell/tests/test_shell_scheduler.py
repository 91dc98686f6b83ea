"""The scheduler path: a shell task built the way a config file builds it, on a trigger."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sts_shell import ShellTask

import sts
from sts.testing import VirtualClock


def test_a_failing_command_on_a_trigger_lands_in_the_history_with_code_and_output() -> None:
    # Real processes on a virtual clock: the loop waits up to 50 real milliseconds for the
    # command's I/O before it lets time jump. A slower command only lets virtual time pass
    # meanwhile; the test waits for records, not for a time.
    clock = VirtualClock(autojump_threshold=0.05)
    factory = sts.create_plugins().task_types.get("shell")
    # Every option as config.ini text, as a config loader hands them over.
    task = factory(
        command='sh -c \'echo "backup of $STS_JOB"; echo "disk full" >&2; exit 4\'',
        env="LANG=C",
        env_clear="false",
        shell="no",
        success_codes="0, 3",
        output_limit="1KiB",
        kill_grace="2s",
    )
    assert isinstance(task, ShellTask)

    async def main() -> list[sts.RunRecord]:
        async with sts.TaskScheduler(clock=clock) as scheduler:
            scheduler.schedule(task, "every 10m", name="nightly", retries=1, backoff="1m")
            for _ in range(100):
                if len(scheduler.store.history("nightly")) == 2:
                    break
                await asyncio.sleep(60)
            return scheduler.store.history("nightly")

    first_fire = clock.now() + timedelta(minutes=10)
    retry, first = clock.run(main())
    assert (first.attempt, retry.attempt) == (1, 2)
    assert first.fire_time == retry.fire_time == first_fire
    assert first.retry_at is not None and retry.retry_at is None
    for record in (first, retry):
        assert record.outcome is sts.Outcome.FAILED
        assert record.error == (
            "CommandFailed: 'sh' exited with code 4 (success codes: 0, 3): disk full"
        )
        assert record.output == {"stdout": "backup of nightly\n", "stderr": "disk full\n"}
