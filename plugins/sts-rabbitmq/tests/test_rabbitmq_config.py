"""Bad input: config keys, options, message bodies. Each is a clear error naming where it
is and what would be valid; none reaches a broker."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sts_rabbitmq import RabbitSettings
from sts_rabbitmq.digest import job_digest
from sts_rabbitmq.messages import Answer, BadMessage, FireMessage, WorkerMessage

import sts


def _check(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "sts.ini"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "sts", "check", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MQ": "secret-password"},
    )
    return done.returncode, done.stdout + done.stderr


JOB = "[job:a]\ntype = python\ncallable = json:dumps\nschedule = every 1h\n"


def test_a_valid_rabbitmq_configuration_checks(tmp_path: Path) -> None:
    code, text = _check(
        tmp_path,
        "[scheduler]\nexecutor = rabbitmq\n[rabbitmq]\nurl = amqp://u:${secret:MQ}@mq:5672/v\n"
        "prefetch = 64\nbackstop = 1m\nqueue = reports\n" + JOB + "executor = rabbitmq:gpu\n",
    )
    assert code == 0, text


def test_an_unknown_executor_is_named_with_the_installed_ones(tmp_path: Path) -> None:
    code, text = _check(tmp_path, "[scheduler]\nexecutor = rabbit\n" + JOB)
    assert code != 0
    assert "[scheduler] executor" in text or "executor" in text
    assert "no executor 'rabbit' is installed" in text and "did you mean 'rabbitmq'" in text


def test_a_jobs_bad_executor_value_names_the_job_and_key(tmp_path: Path) -> None:
    code, text = _check(tmp_path, JOB + "executor = rabbitmq:gpu:1\n")
    assert code != 0
    assert "[job:a]" in text and "expected NAME or NAME:TARGET" in text


def test_an_unknown_rabbitmq_option_is_named(tmp_path: Path) -> None:
    code, text = _check(tmp_path, "[rabbitmq]\nprefech = 5\n" + JOB)
    assert code != 0
    assert "[rabbitmq]" in text and "prefech" in text and "prefetch" in text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "http://mq/"}, "expected amqp://"),
        ({"prefetch": 0}, "invalid prefetch 0"),
        ({"queue": "a b"}, "invalid queue 'a b'"),
        ({"prefix": ""}, "invalid prefix ''"),
        ({"backstop": "soon"}, "backstop"),
        ({"cert_file": "/c.pem"}, "cert_file and key_file go together"),
    ],
)
def test_bad_settings_say_what_is_valid(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RabbitSettings.build(**options)  # type: ignore[arg-type]


def test_a_url_with_a_password_is_not_shown_in_its_error() -> None:
    with pytest.raises(ValueError) as caught:
        RabbitSettings.build(url="amqp:/user:hunter2@mq")
    assert "expected amqp://" in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b'{"v": 2}',
        b'{"v": 1, "job": "a"}',
        b'{"v": 1, "run_id": "r", "job": "a", "fire_time": "yesterday", "attempt": 1,'
        b' "digest": "d", "scheduler": "s"}',
        b'{"v": 1, "run_id": "r", "job": "a", "fire_time": "2026-01-01T00:00:00", "attempt": 1,'
        b' "digest": "d", "scheduler": "s"}',
        b'{"v": 1, "run_id": "r", "job": "a", "fire_time": "2026-01-01T00:00:00+00:00",'
        b' "attempt": true, "digest": "d", "scheduler": "s"}',
        # Python's json raises errors of its own for these (ValueError, RecursionError):
        # they held a worker's slot forever (attack 16).
        pytest.param(b'{"v": 1, "attempt": ' + b"7" * 5000 + b"}", id="5000-digits"),
        pytest.param(b"[" * 100_000, id="nested-100000"),
        # A time that overflows once made UTC (the fire's key).
        pytest.param(
            b'{"v": 1, "run_id": "r", "job": "a", "fire_time": "9999-12-31T23:00:00-14:00",'
            b' "attempt": 1, "digest": "d", "scheduler": "s"}',
            id="fire-time-overflows",
        ),
        # A fire of no job: its key "@<time>" is refused in its claims, so it was claimed
        # again forever and held a slot of the prefetch (review of attack 16).
        pytest.param(
            b'{"v": 1, "run_id": "r", "job": "", "fire_time": "2026-01-01T00:00:00+00:00",'
            b' "attempt": 1, "digest": "d", "scheduler": "s"}',
            id="no-job",
        ),
    ],
)
def test_hostile_fire_bodies_are_bad_messages(body: bytes) -> None:
    with pytest.raises(BadMessage):
        FireMessage.decode(body)
    with pytest.raises(BadMessage):
        FireMessage.decode_all(body)
    with pytest.raises(BadMessage):
        Answer.decode_batch(body)
    try:  # no worker's message either: refused whole, or each of its items
        good, bad = WorkerMessage.decode_each(body)
    except BadMessage:
        good, bad = [], ["refused whole"]
    assert good == [] and bad


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "steal"},
        {"kind": "outcome", "key": "k", "attempt": 1, "run_id": "r", "worker": "w"},
        {
            "kind": "outcome",
            "key": "k",
            "attempt": 1,
            "run_id": "r",
            "worker": "w",
            "outcome": "exploded",
        },
        {
            "kind": "claim",
            "key": "k",
            "attempt": 1,
            "run_id": "r",
            "worker": "w",
            "output": {"a": 1},
        },
        {
            "kind": "claim",
            "key": "k",
            "attempt": 1,
            "run_id": "r",
            "worker": "w",
            "retry_after": "soon",
        },
        # A number too large for a float, and keys that are no attempt's (a stray
        # outcome's key is parsed to record it): the scheduler looped on these, handing
        # the outcome back forever (attack 16).
        {
            "kind": "outcome",
            "key": "j@2026-01-01T00:00:00+00:00",
            "attempt": 1,
            "run_id": "r",
            "worker": "w",
            "outcome": "succeeded",
            "retry_after": 10**400,
        },
        {"kind": "outcome", "key": "k", "attempt": 1, "run_id": "r", "worker": "w"},
        {
            "kind": "outcome",
            "key": "j@not a time",
            "attempt": 1,
            "run_id": "r",
            "worker": "w",
            "outcome": "succeeded",
        },
        {
            "kind": "hold",
            "key": "j@2026-01-01T00:00:00+00:00",
            "attempt": 1,
            "run_id": "r",
            "worker": "w",
            "started_at": 5,
        },
        # Times out of range once in UTC, in the key and in an outcome's own times: a
        # stray outcome was recorded with them, and listing history failed on it.
        {
            "kind": "outcome",
            "key": "j@9999-12-31T23:00:00-14:00",
            "attempt": 1,
            "run_id": "r",
            "worker": "w",
            "outcome": "succeeded",
        },
        {
            "kind": "outcome",
            "key": "j@2026-01-01T00:00:00+00:00",
            "attempt": 1,
            "run_id": "r",
            "worker": "w",
            "outcome": "succeeded",
            "started_at": "9999-12-31T23:00:00-14:00",
        },
        {
            "kind": "claim",
            "key": "@2026-01-01T00:00:00+00:00",
            "attempt": 1,
            "run_id": "r",
            "worker": "w",
        },
    ],
)
def test_hostile_worker_messages_are_bad_messages(data: dict[str, object]) -> None:
    with pytest.raises(BadMessage):
        WorkerMessage.decode(json.dumps({"v": 1, **data}).encode())


def test_one_bad_item_of_a_batch_leaves_the_others() -> None:
    good = {"kind": "claim", "key": "j@2026-01-01T00:00:00+00:00", "attempt": 1}
    good |= {"run_id": "r", "worker": "w"}
    bad = {**good, "key": "@2026-01-01T00:00:00+00:00"}
    body = json.dumps({"v": 1, "batch": [bad, good, {**good, "attempt": 2}]}).encode()
    decoded, reasons = WorkerMessage.decode_each(body)
    assert [(one.key, one.attempt) for one in decoded] == [(good["key"], 1), (good["key"], 2)]
    assert len(reasons) == 1 and "no job" in reasons[0]
    with pytest.raises(BadMessage):
        WorkerMessage.decode_each(b'{"v": 1, "batch": 5}')


def test_messages_round_trip() -> None:
    fire = FireMessage("r1", "job", datetime(2026, 1, 1, tzinfo=UTC), 2, False, "abc", "s", None)
    assert FireMessage.decode(fire.encode()) == fire
    assert fire.key == "job@2026-01-01T00:00:00+00:00"
    sent = WorkerMessage(
        "outcome",
        fire.key,
        2,
        "r1",
        "h:1",
        outcome="failed",
        error="E: x",
        retry=True,
        retry_after=3.0,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert WorkerMessage.decode(sent.encode()) == sent
    assert Answer.decode(Answer(False, "why").encode()) == Answer(False, "why")


def test_the_digest_follows_the_definition_not_the_process() -> None:
    class Report(sts.Task):
        def __init__(self, size: int) -> None:
            super().__init__()
            self.size = size
            self.callback = lambda: None  # its address differs from process to process

        async def run(self) -> None: ...

    def job(size: int, timeout: str) -> sts.Job:
        scheduler = sts.TaskScheduler(loop_block_threshold=None)
        return scheduler.schedule(Report(size), "every 1h", name="r", timeout=timeout)

    assert job_digest(job(1, "10s")) == job_digest(job(1, "10s"))
    assert job_digest(job(1, "10s")) != job_digest(job(2, "10s"))
    assert job_digest(job(1, "10s")) != job_digest(job(1, "20s"))


def test_sts_worker_refuses_a_bad_concurrency(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sts", "worker", "--concurrency", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode != 0 and "expected a whole number >= 1, got '0'" in done.stderr


def test_the_executor_takes_the_options_rabbit_settings_build_takes() -> None:
    # Written out in both signatures on purpose: the config layer reads an executor's
    # options from its factory's signature, and `sts worker` hands the options it checked
    # against the executor's to RabbitSettings.build. The two lists must agree.
    from sts_rabbitmq.executor import RabbitExecutor

    executor = dict(inspect.signature(RabbitExecutor).parameters)
    del executor["scheduler_name"]
    build = inspect.signature(RabbitSettings.build).parameters
    assert {name: each.default for name, each in executor.items()} == {
        name: each.default for name, each in build.items()
    }
