"""The control protocol over a real Unix socket, against a real running scheduler."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from control_helpers import fail, running_scheduler, succeed

import sts
from sts_core.service.control import PROTOCOL_VERSION, ControlError, request


def _jobs(scheduler: sts.TaskScheduler) -> None:
    scheduler.schedule(sts.FunctionTask(succeed, name="tick"), "every 50ms", name="tick")
    scheduler.schedule(sts.FunctionTask(fail, name="boom"), "every 50ms", name="boom")
    scheduler.schedule(sts.FunctionTask(succeed, name="hourly"), "every 1h", name="hourly")


def _wait_for(condition: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_hello_names_the_protocol_version_and_the_commands() -> None:
    with running_scheduler(_jobs) as (_, path):
        hello = request(path, "hello")
    assert hello["protocol"] == PROTOCOL_VERSION
    assert hello["scheduler"] == "control-test"
    assert {"jobs", "history", "plan", "trigger", "pause", "resume", "remove", "stats"} <= set(
        hello["commands"]
    )


def test_a_client_of_another_protocol_version_is_refused_with_a_reason() -> None:
    with running_scheduler(_jobs) as (_, path), pytest.raises(ControlError) as caught:
        request(path, "hello", protocol=PROTOCOL_VERSION + 1)
    assert caught.value.code == "unsupported_protocol"
    assert f"speaks control protocol {PROTOCOL_VERSION}" in caught.value.message


def test_jobs_lists_every_job_with_its_counts_and_durations() -> None:
    with running_scheduler(_jobs) as (_, path):
        _wait_for(
            lambda: all(
                job["succeeded"] + job["failed"] >= 2
                for job in request(path, "jobs")["jobs"]
                if job["name"] != "hourly"
            ),
            "two runs of each short job",
        )
        jobs = {job["name"]: job for job in request(path, "jobs")["jobs"]}
    assert list(jobs) == ["tick", "boom", "hourly"]
    assert jobs["tick"]["schedule"] == "every 50ms"
    assert jobs["tick"]["timezone"] == "UTC"
    assert jobs["tick"]["last_outcome"] == "succeeded" and jobs["tick"]["failed"] == 0
    assert jobs["boom"]["last_outcome"] == "failed" and jobs["boom"]["succeeded"] == 0
    assert jobs["tick"]["mean_duration"] is not None and jobs["tick"]["last_duration"] >= 0
    assert jobs["hourly"]["last_outcome"] is None and jobs["hourly"]["next_fire"] is not None
    assert datetime.fromisoformat(jobs["tick"]["last_fire"]).tzinfo is not None


def test_trigger_with_wait_returns_the_manual_run_and_history_keeps_it() -> None:
    with running_scheduler(_jobs) as (_, path):
        answer = request(path, "trigger", job="hourly", wait=True)
        history = request(path, "history", job="hourly")["runs"]
    assert answer["run"]["outcome"] == "succeeded" and answer["run"]["manual"] is True
    assert [run["run_id"] for run in history] == [answer["run"]["run_id"]]


def test_history_can_keep_only_failures_with_their_traceback() -> None:
    with running_scheduler(_jobs) as (_, path):
        _wait_for(lambda: request(path, "history", failed_only=True)["runs"], "a failure")
        runs = request(path, "history", failed_only=True, limit=5)["runs"]
    assert runs and {run["job"] for run in runs} == {"boom"}
    assert runs[0]["error"] == "RuntimeError: boom"
    assert "Traceback" in runs[0]["traceback"]


def test_pause_stops_fires_and_resume_starts_them_again() -> None:
    with running_scheduler(_jobs) as (_, path):
        paused = request(path, "pause", job="tick")["job"]
        before = len(request(path, "history", job="tick", limit=1000)["runs"])
        time.sleep(0.3)  # six intervals of the job
        after = len(request(path, "history", job="tick", limit=1000)["runs"])
        resumed = request(path, "resume", job="tick")["job"]
        _wait_for(
            lambda: len(request(path, "history", job="tick", limit=1000)["runs"]) > after,
            "a fire after resume",
        )
    assert paused["paused"] is True and resumed["paused"] is False
    # One run may have been under way when the pause arrived.
    assert after - before <= 1


def test_remove_takes_the_job_away_and_an_unknown_job_names_the_known_ones() -> None:
    with running_scheduler(_jobs) as (_, path):
        assert request(path, "remove", job="hourly") == {"job": "hourly", "removed": True}
        names = [job["name"] for job in request(path, "jobs")["jobs"]]
        with pytest.raises(ControlError) as caught:
            request(path, "pause", job="hourly")
    assert names == ["tick", "boom"]
    assert caught.value.code == "unknown_job"
    assert "'hourly'" in caught.value.message and "tick, boom" in caught.value.message


def test_plan_marks_the_daylight_saving_change_in_the_jobs_zone() -> None:
    def setup(scheduler: sts.TaskScheduler) -> None:
        task = sts.FunctionTask(succeed, name="berlin")
        scheduler.schedule(task, "every 1h", name="berlin", timezone="Europe/Berlin")

    with running_scheduler(setup) as (_, path):
        # Berlin moves from +01:00 to +02:00 at 2026-03-29 01:00 UTC.
        plan = request(path, "plan", job="berlin", count=3, since="2026-03-28T23:30:00+00:00")
    assert plan["timezone"] == "Europe/Berlin"
    fires = plan["fires"]
    assert [fire["utc"] for fire in fires] == [
        "2026-03-29T00:30:00+00:00",
        "2026-03-29T01:30:00+00:00",
        "2026-03-29T02:30:00+00:00",
    ]
    assert [fire["local"][11:] for fire in fires] == [
        "01:30:00+01:00",
        "03:30:00+02:00",
        "04:30:00+02:00",
    ]
    assert [fire["offset_changed"] for fire in fires] == [False, True, False]
    assert [fire["dst"] for fire in fires] == [False, True, True]


def test_stats_count_fires_and_lateness() -> None:
    with running_scheduler(_jobs) as (_, path):
        _wait_for(lambda: request(path, "stats")["fires_last_minute"] >= 4, "four fires")
        stats = request(path, "stats")
    assert stats["jobs"] == 3 and stats["uptime"] > 0
    assert stats["runs_in_flight"] >= 0
    assert stats["lateness_p99"] is not None and 0 <= stats["lateness_p99"] < 5
    assert 4 <= len(stats["lateness_recent"]) <= 60


@pytest.mark.parametrize(
    ("command", "arguments", "expected"),
    [
        ("nap", {}, "unknown command 'nap': expected one of hello, jobs"),
        ("pause", {}, "the command 'pause' needs the argument 'job'"),
        ("history", {"limit": 0}, "the argument 'limit' of 'history' must be a whole number"),
        ("history", {"failed_only": "yes"}, "'failed_only' of 'history' must be true or false"),
        ("plan", {"job": "tick", "since": "soon"}, "'since' of 'plan' must be an ISO 8601"),
        ("plan", {"job": "tick", "count": 5000}, "'count' of 'plan' must be a whole number"),
        ("subscribe", {"events": ["lunch"]}, "'events' of 'subscribe' must be a list of event"),
    ],
)
def test_bad_requests_get_an_error_that_names_the_command_and_the_argument(
    command: str, arguments: dict[str, Any], expected: str
) -> None:
    with running_scheduler(_jobs) as (_, path), pytest.raises(ControlError) as caught:
        request(path, command, **arguments)
    assert expected in caught.value.message


def test_a_line_that_is_not_json_gets_an_error_and_the_connection_goes_on() -> None:
    with (
        running_scheduler(_jobs) as (_, path),
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection,
    ):
        connection.settimeout(5)
        connection.connect(str(path))
        connection.sendall(b"{not json\n" + json.dumps({"id": 7, "command": "stats"}).encode())
        connection.sendall(b"\n")
        with connection.makefile("rb") as lines:
            first = json.loads(lines.readline())
            second = json.loads(lines.readline())
    assert first["ok"] is False and first["id"] is None
    assert first["error"]["code"] == "bad_request"
    assert second["id"] == 7 and second["ok"] is True


def test_request_without_a_scheduler_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        request(tmp_path / "none.sock", "hello")


def test_stats_window_and_p99_use_nearest_rank() -> None:
    from sts_core.records import RunContext
    from sts_core.service.control.stats import SchedulerStats

    stats = SchedulerStats()
    fire = datetime(2026, 1, 1, tzinfo=UTC)
    for index in range(100):
        started = fire.replace(microsecond=(index + 1) * 1000)
        stats.run_started(RunContext(f"r{index}", "job", fire, 1, started), now=float(index))
    stats.run_started(RunContext("manual", "job", fire, 1, fire, manual=True), now=99.0)
    assert stats.lateness_p99() == pytest.approx(0.099)
    assert stats.fires_last_minute(now=99.0) == 60  # fires at 40..99; manual runs are no fires
    assert stats.recent_lateness(3) == pytest.approx([0.098, 0.099, 0.1])


def test_an_internal_error_is_answered_with_its_secrets_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sts_core.service.control.commands import ControlCommands
    from sts_core.service.secrets import resolve_secrets

    secret = resolve_secrets("${secret:TOKEN}", providers=[{"TOKEN": "hunter2-very-secret"}])

    async def broken(self: ControlCommands, command: str, arguments: Any) -> Any:
        # A bug in a command whose error quotes a secret (no real command fails so).
        raise RuntimeError(f"could not log in with {secret}")

    monkeypatch.setattr(ControlCommands, "handle", broken)
    with running_scheduler(_jobs) as (_, path), pytest.raises(ControlError) as caught:
        request(path, "jobs")
    assert caught.value.code == "internal"
    assert caught.value.message.startswith("RuntimeError: could not log in with ")
    assert "hunter2" not in caught.value.message
