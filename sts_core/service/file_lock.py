"""An exclusive lock on a file, held by one process at a time, naming its holder.

An OS lock (``flock``) rather than a file that exists or not: the kernel releases it when
the process dies, however it dies (``kill -9`` included), so no stale lock is ever left to
clean up, and taking it is atomic, so two processes started at the same instant cannot both
get it. The lock file holds ``<pid> <host>`` of its holder, for the error of the loser.
The file itself is never deleted: deleting a lock file lets a third process lock a new
file while the second still holds the old one.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path


class LockHeld(Exception):
    """Another process holds the lock; ``holder`` says which (``pid 42 on host web1``)."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is locked by {holder}")
        self.path = path
        self.holder = holder


class ExclusiveLock:
    """The lock on ``path``, taken at once or not at all; released by :meth:`release`, by
    closing, or by the death of the process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (a no-op when this object holds it already).

        :raises LockHeld: when another process (or another lock object) holds it.
        :raises OSError: when the lock file cannot be created.
        """
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeld(self.path, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        self._fd = fd

    def still_ours(self) -> bool:
        """Whether the lock file at ``path`` is still the one locked (not deleted, not
        replaced): a lock on a deleted file keeps nobody out."""
        if self._fd is None:
            return False
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(self._fd)
        return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)

    def release(self) -> None:
        """Let go of the lock (closing the descriptor releases it)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").split()
    except OSError:
        text = []
    if len(text) >= 2 and text[0].isdigit():
        return f"pid {text[0]} on host {text[1]}"
    # Locked, but the holder has not written its name yet (it locked an instant ago).
    return "another process (it has not written its pid yet)"
