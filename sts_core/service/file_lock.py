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
import time
from pathlib import Path

#: How long a process that lost the lock waits for the holder to write its name.
HOLDER_WAIT = 1.0


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
        name = f"{os.getpid()} {socket.gethostname()}\n".encode()
        os.pwrite(fd, name, 0)  # over the last holder's, then cut: never an empty file
        os.ftruncate(fd, len(name))
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
    """The holder named in the lock file. It locks first and writes its name next, so a
    loser that reads in between finds nothing, or the name of the previous holder (who
    died): it reads again for a moment until the name is of a live process."""
    deadline = time.monotonic() + HOLDER_WAIT
    while True:
        holder = _holder_in(fd)
        if holder is not None or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    if holder is None:
        return "another process (it has not written its pid yet)"
    pid, host = holder
    return f"pid {pid} on host {host}"


def _holder_in(fd: int) -> tuple[int, str] | None:
    try:
        words = os.pread(fd, 200, 0).decode(errors="replace").split()
    except OSError:
        return None
    if len(words) < 2 or not words[0].isdigit():
        return None
    pid, host = int(words[0]), words[1]
    if host == socket.gethostname() and not _alive(pid):
        return None  # a previous holder's name, not yet overwritten
    return pid, host


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
