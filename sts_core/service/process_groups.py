"""Live process groups: commands that must not outlive the scheduler that started them.

A task that starts an external command in a process group of its own (the shell task)
records the group here while it runs. The record is a small JSON file per scheduler
process, ``<user data dir>/sts/process-groups/<pid>-<start time>.json``, replaced
atomically on each change. Two things read it:

- a **guard** process, started with the first recorded group: it waits on a pipe whose
  other end only this process holds, so it wakes when this process ends in any way
  (``kill -9`` included), and then kills the groups the file still lists;
- every scheduler at start (:func:`reap_orphaned_process_groups`): it kills the groups listed by
  processes that are gone, in case the guard was killed too. So a job with
  ``overlap = skip`` never runs beside a copy left behind by a killed scheduler.

A run records its group *before* it starts the command (with no number yet), then again
with the group's number once started: a scheduler killed in between, after the command has
started a child of its own, still left a record of it. A group without a number is found
by the run's ``STS_RUN_ID`` in its processes' environment.

A group is killed only once it is proven to be the one recorded, never another that
reuses its number: one of its processes carries the run's ``STS_RUN_ID`` in its
environment, or its leader has the recorded start time (Linux ``/proc``; elsewhere
nothing is killed and a warning says so). A process that left the group (``setsid``)
escapes all of this; a cgroup closes that gap (``docs/plugins/shell.md``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("sts.process_groups")

#: How long a killed group may take to vanish before it is reported as still there.
KILL_WAIT = 5.0
_PROC = Path("/proc")
_SH = "/bin/sh"
#: The guard: a shell that waits for EOF from our end of a pipe, then runs the killing.
_GUARD_SCRIPT = 'read ignored; exec "$0" -m sts_core.service.process_groups "$1"'


def registry_directory() -> Path:
    """``<user data dir>/sts/process-groups``: where each scheduler process lists its groups."""
    from .paths import state_database

    return state_database("sts").parent / "process-groups"


# -- /proc -------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[bytes] | None:
    """``/proc/<pid>/stat`` from the state field on (the name may hold spaces and ')')."""
    try:
        with open(_PROC / str(pid) / "stat", "rb") as file:
            stat = file.read()
    except OSError:  # gone, or not Linux
        return None
    return stat[stat.rfind(b")") + 2 :].split()


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``None``: no such process)."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def process_group_members(pgid: int) -> list[int]:
    """The pids of the group's processes that still run (zombies do not count: one that
    nobody reaps stays forever and would make every wait last its whole timeout)."""
    if not _PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:  # someone else's process joined the group: it exists
            pass
        return [pgid]
    members = []
    with os.scandir(_PROC) as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            fields = _stat_fields(int(entry.name))
            running = fields is not None and fields[0] not in (b"Z", b"X")
            if running and fields is not None and len(fields) >= 3 and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def _has_run_id(pid: int, run_id: str) -> bool:
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return f"STS_RUN_ID={run_id}".encode() in environ.split(b"\0")


# -- the record --------------------------------------------------------------------------------


def _groups_of_run(run_id: str) -> set[int]:
    """The process groups of the live processes that carry ``run_id`` in their environment."""
    groups = set()
    with os.scandir(_PROC) as entries:
        for entry in entries:
            if entry.name.isdigit() and _has_run_id(int(entry.name), run_id):
                fields = _stat_fields(int(entry.name))
                if fields is not None and len(fields) >= 3 and fields[0] not in (b"Z", b"X"):
                    groups.add(int(fields[2]))
    return groups


@dataclass(frozen=True, slots=True)
class RecordedGroup:
    """A process group a run started, as the record keeps it; ``pgid`` is ``None`` while
    the command is being started (its group has no number yet)."""

    pgid: int | None
    leader_start: int | None
    run_id: str
    job: str

    def live_groups(self) -> set[int]:
        """The numbers of the groups this record proves to be its run's and that still run."""
        if self.pgid is None:
            return _groups_of_run(self.run_id) if _PROC.is_dir() else set()
        return {self.pgid} if self.is_ours() else set()

    def is_ours(self) -> bool:
        """Whether the group that has this number now is the recorded one (see the module's
        docstring); ``False`` also when it is gone."""
        if self.pgid is None:
            return False
        members = process_group_members(self.pgid)
        leader = self.pgid in members and self.leader_start is not None
        if leader and process_start_time(self.pgid) == self.leader_start:
            return True
        return any(_has_run_id(pid, self.run_id) for pid in members)


class _Registry:
    """This process's record of live groups, and the guard that acts on it at our end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._groups: dict[str, RecordedGroup] = {}  # by run id
        self._write_failed = False
        self._path: Path | None = None
        self._guard: subprocess.Popen[bytes] | None = None
        self._guard_pipe: int | None = None
        self._owner = (os.getpid(), process_start_time(os.getpid()))

    def add(self, group: RecordedGroup) -> None:
        with self._lock:
            self._fork_check()
            self._groups[group.run_id] = group
            self._write()
            if self._guard is None or self._guard.poll() is not None:
                self._start_guard()

    def discard(self, run_id: str) -> None:
        with self._lock:
            if self._groups.pop(run_id, None) is not None:
                self._write()

    def _fork_check(self) -> None:
        # A forked child (multiprocessing) keeps its own record, and its own guard; its
        # copy of our pipe is closed, or our guard would wait for the child's end too.
        if self._owner[0] != os.getpid():
            if self._guard_pipe is not None:
                os.close(self._guard_pipe)
            self._reset()

    @property
    def path(self) -> Path:
        if self._path is None:
            pid, started = self._owner
            self._path = registry_directory() / f"{pid}-{started or 0}.json"
        return self._path

    def _write(self) -> None:
        try:
            self._replace_file()
        except OSError as error:
            # A full or read-only disk must not fail the run: the command still runs, and
            # still dies with us by the death signal; the guard and the restart check,
            # which read the record, cannot reach its children.
            if not self._write_failed:
                logger.warning(
                    "cannot record the running commands' process groups in %s: %s; if the "
                    "scheduler is killed, their children may outlive it",
                    self.path,
                    error.strerror or error,
                )
            self._write_failed = True
        else:
            self._write_failed = False

    def _replace_file(self) -> None:
        path = self.path
        if not self._groups:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        content = {
            "owner_pid": self._owner[0],
            "owner_start": self._owner[1],
            "groups": [
                {"pgid": g.pgid, "leader_start": g.leader_start, "run_id": g.run_id, "job": g.job}
                for g in self._groups.values()
            ],
        }
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(content))
        os.replace(temporary, path)  # atomic: a kill -9 leaves the old file or the new one

    def _start_guard(self) -> None:
        if not _PROC.is_dir():
            return  # nothing could verify a group before killing it
        read_end, write_end = os.pipe()  # both close on exec; only the guard gets read_end
        try:
            self._guard = subprocess.Popen(
                # sh waits for our end (EOF on its stdin) at the cost of a shell, not of a
                # Python interpreter; Python starts only to do the killing.
                [_SH, "-c", _GUARD_SCRIPT, sys.executable, str(self.path)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C or a kill of our group must not end it
            )
        except OSError as error:
            os.close(write_end)
            logger.warning("cannot start the process group guard: %s", error)
        else:
            if self._guard_pipe is not None:
                os.close(self._guard_pipe)
            self._guard_pipe = write_end
        finally:
            os.close(read_end)


_registry = _Registry()


def track_process_group(pgid: int | None, *, run_id: str, job: str) -> None:
    """Record that the run ``run_id`` of ``job`` started process group ``pgid`` (its
    leader's pid), so that the group is killed if this process ends while it lives.

    Call it with ``None`` just before starting the command, and again with the number once
    it started: a kill in between then still finds the command's processes, by the run's
    ``STS_RUN_ID`` in their environment (the command must get it)."""
    leader_start = None if pgid is None else process_start_time(pgid)
    _registry.add(RecordedGroup(pgid, leader_start, run_id, job))


def untrack_process_group(run_id: str) -> None:
    """The group the run ``run_id`` started is gone, or never started: forget it."""
    _registry.discard(run_id)


# -- killing what a dead scheduler left ------------------------------------------------------


def kill_recorded(groups: list[RecordedGroup], owner: str) -> list[RecordedGroup]:
    """SIGKILL each group that is proven to be the recorded one; the ones killed."""
    killed = []
    for group in groups:
        numbers = group.live_groups()
        if not numbers:
            if group.pgid is not None and process_group_members(group.pgid):
                logger.warning(
                    "process group %d (job=%s run=%s, left by %s) now belongs to another "
                    "program: left alone",
                    group.pgid,
                    group.job,
                    group.run_id,
                    owner,
                )
            continue
        for number in numbers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(number, signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT
        while time.monotonic() < deadline and any(map(process_group_members, numbers)):
            time.sleep(0.01)
        logger.warning(
            "killed process group %s of job=%s run=%s, left running by %s",
            ", ".join(map(str, sorted(numbers))),
            group.job,
            group.run_id,
            owner,
        )
        killed.append(group)
    return killed


def _read(path: Path) -> tuple[int, int | None, list[RecordedGroup]] | None:
    try:
        content: dict[str, Any] = json.loads(path.read_text())
        groups = [RecordedGroup(**entry) for entry in content["groups"]]
        return int(content["owner_pid"]), content["owner_start"], groups
    except (OSError, ValueError, KeyError, TypeError):
        return None


def reap_orphaned_process_groups(directory: Path | None = None) -> list[RecordedGroup]:
    """Kill the groups recorded by scheduler processes that are gone; the ones killed.

    Called when a scheduler starts, before its first fire. A record whose owner still
    runs (another scheduler) is left alone; a record that cannot be read is removed.
    """
    directory = directory or registry_directory()
    try:
        paths = [path for path in directory.iterdir() if path.suffix == ".json"]
    except (FileNotFoundError, NotADirectoryError):
        return []
    killed = []
    for path in paths:
        record = _read(path)
        if record is not None:
            owner_pid, owner_start, groups = record
            if owner_start is not None and process_start_time(owner_pid) == owner_start:
                continue  # its scheduler still runs
            killed += kill_recorded(groups, f"the scheduler process {owner_pid}")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return killed


def _guard_main(path: str) -> int:
    """The guard, once the scheduler process is gone: kill what its record still lists."""
    logging.basicConfig(format="sts process group guard: %(message)s", level=logging.WARNING)
    record = _read(Path(path))
    if record is not None:
        owner_pid, _, groups = record
        kill_recorded(groups, f"the scheduler process {owner_pid}, which ended")
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(_guard_main(sys.argv[1]))
