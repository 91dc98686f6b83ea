"""The control socket's bind is race-free: of schedulers started at the same instant on one
socket path, exactly one listens; the others are refused and no live socket is unlinked."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from control_helpers import short_socket_dir

import sts
from sts_core.service.control import request


def _start(
    scheduler: sts.TaskScheduler, gate: threading.Barrier, errors: list[BaseException]
) -> None:
    gate.wait()
    try:
        scheduler.run()
    except RuntimeError as error:
        errors.append(error)


def test_schedulers_started_together_on_one_socket_never_both_listen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A slow bind (a loaded machine) widens the moment between finding the path free and
    # binding it, where a second scheduler used to find it free too.
    real: Callable[..., Awaitable[asyncio.Server]] = asyncio.start_unix_server

    async def slow_bind(*args: Any, **kwargs: Any) -> asyncio.Server:
        await asyncio.sleep(0.05)
        return await real(*args, **kwargs)

    monkeypatch.setattr(asyncio, "start_unix_server", slow_bind)
    with short_socket_dir() as directory:
        path = directory / "s.sock"
        for attempt in range(5):
            schedulers = [
                sts.TaskScheduler(name=f"s{attempt}-{n}", blocking=False, control_socket=path)
                for n in range(2)
            ]
            errors: list[BaseException] = []
            gate = threading.Barrier(2)
            threads = [threading.Thread(target=_start, args=(s, gate, errors)) for s in schedulers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            running = [s for s in schedulers if s.running]
            try:
                assert len(running) == 1, f"attempt {attempt}: {len(running)} listen"
                assert len(errors) == 1
                assert "another scheduler already listens" in str(errors[0])
                assert "pid " in str(errors[0])
                # The one that listens still owns the socket: nobody unlinked it.
                assert request(path, "hello")["scheduler"] == running[0].name
            finally:
                for scheduler in running:
                    scheduler.stop(grace=1)
