"""A command dies with the scheduler: ``PR_SET_PDEATHSIG`` on Linux.

The kernel sends the command SIGKILL when the thread that started it ends, however it
ends (``kill -9`` included). It reaches the command itself, the leader of its process
group; the rest of the group is killed by the guard of ``sts.track_process_group``.
Elsewhere there is no such call, and the guard alone stands.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

#: From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1

_prctl: Callable[..., int] | None = None


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die with its parent, or ``None`` where the
    platform cannot. libc is loaded here, in the parent: the child between fork and exec
    must only make the system call."""
    global _prctl
    if not sys.platform.startswith("linux"):
        return None
    if _prctl is None:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl, parent = _prctl, os.getpid()

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the call: nobody will tell us
            os.kill(os.getpid(), signal.SIGKILL)

    return set_death_signal
