"""What the logs tell: the facts of every core event as JSON fields, timestamps with their
offset, a start-up line, one line (not a traceback) for an expected set-up error, and the
scheduling decisions at DEBUG; and ``sts run`` with nothing to run stops with an error."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import sts_environment, wait_for
from core_helpers import Recorder

import sts
from sts.testing import VirtualClock
from sts_core.service.logsinks import JsonFormatter, TextFormatter

RUN_FIELDS = {"job", "run_id", "attempt", "outcome", "duration", "fire_time"}


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


def test_every_run_event_carries_its_facts_as_json_fields(
    virtual_clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    ok, failing = Recorder(virtual_clock, name="ok"), Recorder(virtual_clock, name="failing")
    failing.fail_times = 5
    slow = Recorder(virtual_clock, name="slow", duration=25)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(ok, "every 10s")
            scheduler.schedule(failing, "every 10s", retries=1, backoff="1s")
            scheduler.schedule(slow, "every 10s", overlap="skip")
            late = virtual_clock.now() - timedelta(hours=1)
            scheduler.schedule(Recorder(virtual_clock, name="late"), sts.DateTrigger(late))
            await asyncio.sleep(21)

    with caplog.at_level(logging.INFO, logger="sts"):
        virtual_clock.run(main())
    lines = json_lines(caplog)
    by_event: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_event.setdefault(line.get("event", ""), []).append(line)
    started, finished = by_event["run_started"], by_event["run_finished"]
    assert {line["job"] for line in finished} == {"ok", "failing", "slow"}
    for line in finished:
        assert set(line) >= RUN_FIELDS, line
        assert line["run_id"] in line["message"] and line["job"] in line["message"]
        datetime.fromisoformat(line["fire_time"])
    assert {"job", "run_id", "attempt", "fire_time"} <= set(started[0])
    retried = [line for line in finished if line["job"] == "failing"]
    assert [(line["attempt"], line["outcome"]) for line in retried[:2]] == [
        (1, "failed"),
        (2, "failed"),
    ]
    assert "retry_at" in retried[0] and retried[0]["error"] == "RuntimeError: boom"
    (skipped,) = by_event["fire_skipped"]
    assert skipped["job"] == "slow" and skipped["outcome"] == "skipped"
    (missed,) = by_event["fire_missed"]
    assert missed["job"] == "late" and missed["outcome"] == "missed"
    assert missed["missed_count"] == 1
    # UTC with its offset in JSON; the machine's offset in text
    assert all(line["time"].endswith("+00:00") for line in lines)
    text = TextFormatter().format(caplog.records[0])
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d INFO ", text), text


def test_the_start_up_line_says_what_runs_where(
    virtual_clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        scheduler = sts.TaskScheduler(name="summary", clock=virtual_clock, timezone="UTC")
        scheduler.schedule(Recorder(virtual_clock), "every 1h")
        async with scheduler:
            await asyncio.sleep(1)

    with caplog.at_level(logging.INFO, logger="sts"):
        virtual_clock.run(main())
    events = [line.get("event") for line in json_lines(caplog)]
    assert events[0] == "scheduler_started" and events[-1] == "scheduler_stopped"
    (line,) = [line for line in json_lines(caplog) if line.get("event") == "scheduler_started"]
    assert line["message"] == (
        "scheduler summary started: config none, 1 jobs, state in memory, zone UTC, socket none"
    )
    assert line["jobs"] == 1 and line["timezone"] == "UTC" and line["socket"] is None


class Setup(sts.Task):
    """Fails the way a task's set-up fails, or (``bug``) with an ordinary exception."""

    def __init__(self, kind: str) -> None:
        super().__init__(name=kind)
        self.kind = kind

    async def run(self) -> None:
        if self.kind == "executable":
            raise sts.SetupError("cannot run 'pg_dumpp': no such executable on PATH")
        if self.kind == "secret":
            sts.resolve_secrets("${secret:STS_TEST_NO_SUCH_SECRET}")
        raise RuntimeError("a bug")


def test_an_expected_set_up_error_is_one_line_a_fire(
    virtual_clock: VirtualClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STS_TEST_NO_SUCH_SECRET", raising=False)

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            for kind in ("executable", "secret", "bug"):
                scheduler.schedule(Setup(kind), "every 10s")
            await asyncio.sleep(25)
        return scheduler

    with caplog.at_level(logging.INFO, logger="sts"):
        scheduler = virtual_clock.run(main())
    formatter = TextFormatter()
    failures: dict[str, list[str]] = {}
    for record in caplog.records:
        if record.levelno == logging.ERROR:
            failures.setdefault(getattr(record, "job", ""), []).append(formatter.format(record))
    assert len(failures["executable"]) == len(failures["secret"]) == 2  # one per fire
    for kind in ("executable", "secret"):
        assert all("\n" not in line for line in failures[kind]), failures[kind]
        # the traceback is still kept in the record, for sts show
        assert scheduler.store.history(kind)[0].traceback
    assert "no such executable" in failures["executable"][0]
    assert "STS_TEST_NO_SUCH_SECRET" in failures["secret"][0]
    assert "Traceback" in failures["bug"][0]  # a bug keeps its traceback


def test_debug_shows_the_scheduling_decisions(
    virtual_clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock, timezone="UTC") as scheduler:
            scheduler.schedule(Recorder(virtual_clock, name="tick"), "every 10s")
            late = virtual_clock.now() - timedelta(hours=1)
            scheduler.schedule(
                Recorder(virtual_clock, name="late"), sts.DateTrigger(late), misfire_grace="1m"
            )
            await asyncio.sleep(11)

    with caplog.at_level(logging.DEBUG, logger="sts"):
        virtual_clock.run(main())
    messages = [record.getMessage() for record in caplog.records]
    assert any(re.fullmatch(r"next fire: job=tick at \S+", m) for m in messages), messages
    assert any(m.startswith("fire due: job=tick fire_time=") for m in messages)
    assert "next fire: job=late none (its trigger has ended)" in messages
    assert (
        "misfire decision: job=late 1 fire(s) due, 1 missed (misfire_grace 60s), "
        "coalesce=True: 0 run(s) start"
    ) in messages


def test_run_with_no_config_and_no_jobs_stops_with_an_error(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts_env:
        result = sts_env.run("run", timeout=30)
        assert result.returncode == 2
        assert result.stderr.startswith("sts run: error: no config file and no jobs")
        assert "Traceback" not in result.stderr


def test_sts_run_logs_its_start_up_line(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts_env:
        sts_env.write("app.py", "def hello():\n    pass\n")
        config = sts_env.write(
            "sts.ini",
            "[scheduler]\nname = told\ntimezone = Europe/Berlin\n"
            "[job:hello]\ntype = python\ncallable = app:hello\nschedule = every 1h\n",
        )
        process = sts_env.start("run")
        wait_for(sts_env.socket("told").exists, what="the control socket", process=process)
        # Answered over the socket: the loop runs, and its SIGTERM handler is in place.
        assert sts_env.run("jobs").returncode == 0
        code, _, err = sts_env.stop(process)
        assert code == 0, err
        assert (
            f"scheduler told started: config {config}, 1 jobs, state {sts_env.database('told')}, "
            f"zone Europe/Berlin, socket {sts_env.socket('told')}"
        ) in err
