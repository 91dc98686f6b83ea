"""Shared by the fault-injection tests: a scheduler config whose jobs log every start and
end of a run to a file (one ``write`` per line, so lines from a killed process are whole),
and readers of that log, the state file and the processes a killed scheduler left."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

#: The python job: a sync function (it runs in the scheduler's thread pool).
JOBS_MODULE = """
import os, random, time
import sts

def _log(line):
    fd = os.open(os.environ["FAULT_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\\n").encode())
    finally:
        os.close(fd)

def work():
    run = sts.current_run()
    fire = run.fire_time.isoformat()
    _log(f"start py {fire} {os.getpid()}")
    time.sleep(random.uniform(0, 0.04))
    _log(f"done py {fire} {os.getpid()}")
"""

#: The shell job's script.
JOB_SCRIPT = """
echo "start sh $STS_FIRE_TIME $$" >> "$FAULT_LOG"
sleep 1
echo "done sh $STS_FIRE_TIME $$" >> "$FAULT_LOG"
"""

#: Both jobs every 50 ms; the shell job's command lasts 1 s, longer than a restart, so a
#: kill usually finds one running and an orphan would still run beside the successor.
CONFIG = """
[scheduler]
name = faults
timezone = UTC

[state]
success_history = 1000000
failure_history = 1000000

[job:py]
type = python
callable = faultjobs:work
schedule = every 50ms
overlap = skip

[job:sh]
type = shell
command = sh ./faultjob.sh
schedule = every 50ms
overlap = skip
"""


def log_lines(log: Path) -> list[list[str]]:
    """The job log's whole lines, split: ``[event, job, fire, pid]``."""
    if not log.exists():
        return []
    return [line.split() for line in log.read_text().splitlines() if line.count(" ") == 3]


@dataclass
class FireCount:
    """What the job logs and the state file say about every fire of every job."""

    starts: Counter[tuple[str, str]] = field(default_factory=Counter)
    done: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: Fires whose run started and that have no record at all in the state file.
    unrecorded: list[tuple[str, str]] = field(default_factory=list)
    #: Records, by outcome.
    outcomes: Counter[str] = field(default_factory=Counter)
    #: Fires with more than one ``succeeded`` record.
    recorded_twice: list[tuple[str, str]] = field(default_factory=list)

    @property
    def completed_twice(self) -> list[tuple[str, str]]:
        """Fires that completed once and ran again (or completed twice)."""
        return [fire for fire, count in self.starts.items() if count > 1 and self.done[fire]]

    @property
    def started_twice(self) -> list[tuple[str, str]]:
        return [fire for fire, count in self.starts.items() if count > 1]


def count_fires(log: Path, database: Path) -> FireCount:
    count = FireCount()
    for event, job, fire, _pid in log_lines(log):
        (count.starts if event == "start" else count.done)[job, fire] += 1
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT job, fire_time, outcome FROM runs").fetchall()
    finally:
        connection.close()
    recorded: Counter[tuple[str, str]] = Counter()
    succeeded: Counter[tuple[str, str]] = Counter()
    for job, fire, outcome in rows:
        count.outcomes[outcome] += 1
        recorded[job, fire] += 1
        if outcome == "succeeded":
            succeeded[job, fire] += 1
    # The shell gets the fire time as the scheduler's isoformat, as the python job does.
    count.unrecorded = [fire for fire in count.starts if not recorded[fire]]
    count.recorded_twice = [fire for fire, number in succeeded.items() if number > 1]
    return count


def integrity(database: Path) -> str:
    """``PRAGMA integrity_check`` of the state file, read as another process would."""
    connection = sqlite3.connect(database, timeout=30)
    try:
        return ", ".join(str(row[0]) for row in connection.execute("PRAGMA integrity_check"))
    finally:
        connection.close()


def processes_marked(marker: str) -> list[int]:
    """Live (not zombie) processes whose environment holds ``FAULT_MARKER=marker``: the
    commands a scheduler started, found by what they inherited."""
    wanted = f"FAULT_MARKER={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


def kill_all(pids: list[int]) -> None:
    """End the orphans a test found (its own processes' children), so none outlives it."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
