"""Fixtures of the sts-rabbitmq tests: the machine's broker (RabbitMQ on 127.0.0.1:5672,
guest/guest), a namespace of queue names per test, deleted after it, and a directory with
the test jobs' module."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from rabbit_helpers import Namespace, broker_available

import sts.testing

JOBS_MODULE = """
import asyncio
import os

import sts

OUT = os.environ["STS_TEST_OUT"]


def _line(state):
    run = sts.current_run()
    text = "\\t".join([run.idempotency_key, run.worker, str(int(run.redelivered)),
                      str(run.attempt), state])
    fd = os.open(OUT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (text + "\\n").encode())  # one write of a short line: whole
    finally:
        os.close(fd)


async def append():
    _line("end")


async def slow():
    _line("start")
    await asyncio.sleep(float(os.environ.get("STS_TEST_SLOW", "3")))
    _line("end")


async def hang():
    _line("start")
    await asyncio.sleep(60)
    _line("end")


async def die():
    _line("start")
    os.kill(os.getpid(), 9)  # a poison message: it kills every worker that takes it


async def fail():
    _line("start")
    raise RuntimeError("failing on purpose")


async def flaky():
    _line("start")
    if sts.current_run().attempt == 1:
        raise RuntimeError("the first attempt fails")
    await asyncio.sleep(4)
    _line("end")
"""


@pytest.fixture
def rabbit() -> Iterator[Namespace]:
    """A namespace on the machine's broker; its queues and exchanges are deleted after."""
    sts.testing.require(
        broker_available(), "RabbitMQ is not running on 127.0.0.1:5672 (guest/guest)"
    )
    namespace = Namespace()
    yield namespace
    asyncio.run(namespace.delete())


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory holding ``rabbit_jobs.py`` (importable), whose runs append lines to
    ``out.txt`` (``STS_TEST_OUT``)."""
    (tmp_path / "rabbit_jobs.py").write_text(JOBS_MODULE)
    monkeypatch.setenv("STS_TEST_OUT", str(tmp_path / "out.txt"))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path
