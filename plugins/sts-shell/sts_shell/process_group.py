"""Stop a command's whole process group: SIGTERM, a grace period, then SIGKILL.

A command runs as the leader of a new process group, so its children and grandchildren
share the group id (the leader's pid) unless they leave it on purpose (``setsid``).
"""

from __future__ import annotations

import asyncio
import os
import signal

import sts

#: How long to wait for a group to vanish after SIGKILL, which nothing can ignore, before
#: giving up (a process stuck in the kernel, in "D" state, outlives any signal).
KILL_WAIT = 5.0
_FIRST_POLL = 0.005
_MAX_POLL = 0.05


def group_members(pgid: int) -> list[int]:
    """The pids of the group's processes that still run (zombies do not count)."""
    return sts.process_group_members(pgid)


def signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to the group; ``False`` when the group is gone."""
    if pgid <= 1 or pgid == os.getpgrp():
        # Never signal our own group (the scheduler) or every process (pgid 1, 0, -1).
        raise RuntimeError(f"refusing to signal process group {pgid}")
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


async def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the group to have no running process."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    poll = _FIRST_POLL
    while group_members(pgid):
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(poll, remaining))
        poll = min(poll * 2, _MAX_POLL)
    return True


async def stop_group(pgid: int, grace: float) -> str | None:
    """SIGTERM the group (with SIGCONT, so stopped processes see it), wait up to ``grace``
    seconds, then SIGKILL what is left.

    :returns: ``None`` when the group was already gone, ``"SIGTERM"`` when it ended within
        the grace period, ``"SIGKILL"`` when it needed killing.
    """
    if not signal_group(pgid, signal.SIGTERM):
        return None
    signal_group(pgid, signal.SIGCONT)
    if await wait_group_gone(pgid, grace):
        return "SIGTERM"
    signal_group(pgid, signal.SIGKILL)
    await wait_group_gone(pgid, KILL_WAIT)
    return "SIGKILL"
