"""A scheduler with its control socket on, running in a background thread."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sts


async def succeed() -> None:
    pass


async def fail() -> None:
    raise RuntimeError("boom")


@contextmanager
def short_socket_dir() -> Iterator[Path]:
    # A Unix socket path may have at most 107 bytes; pytest's tmp_path can be longer.
    directory = Path(tempfile.mkdtemp(prefix="sts-ctl-", dir="/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def running_scheduler(
    setup: Callable[[sts.TaskScheduler], None],
) -> Iterator[tuple[sts.TaskScheduler, Path]]:
    """A real scheduler listening on a temporary socket, stopped afterwards."""
    with short_socket_dir() as directory:
        path = directory / "control.sock"
        scheduler = sts.TaskScheduler(
            name="control-test", blocking=False, control_socket=path, timezone="UTC"
        )
        setup(scheduler)
        scheduler.run()
        try:
            yield scheduler, path
        finally:
            scheduler.stop(grace=1)


def answers(path: Path) -> bool:
    """Whether a scheduler answers on ``path``: its socket file exists a moment before it
    listens, and a killed scheduler leaves its file behind, so only an answer tells."""
    from sts_core.service.control import request

    try:
        request(path, "hello")
    except OSError:
        return False
    return True
