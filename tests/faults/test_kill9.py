"""``kill -9`` of a real ``sts run`` at random moments, a hundred times, then the count.

Four state files are attacked side by side, each by a sequence of kills: at a random
moment of the start-up, at a random moment of a running scheduler, or just after a fire
(the log has just grown). Both jobs fire every 50 ms: a python job, and a shell command
that lasts 1 s. After every kill the state file must pass ``integrity_check``, and once
the successor has fired no command of the dead scheduler may still run. At the end the
job logs and the state files are compared: no fire that completed ran again, every run
that started has a record, no fire has two ``succeeded`` records.

``STS_FAULT_KILLS`` changes the number of kills (100 by default).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_helpers import StsEnv, wait_for
from faults.fault_helpers import (
    CONFIG,
    JOB_SCRIPT,
    JOBS_MODULE,
    FireCount,
    count_fires,
    integrity,
    kill_all,
    processes_marked,
)

KILLS = int(os.environ.get("STS_FAULT_KILLS", "100"))
STATE_FILES = 4
#: How long after a kill its commands are looked for (those that outlived it).
ORPHAN_GRACE = 0.2


@dataclass
class Attack:
    """What the kills of one state file found."""

    kills: int = 0
    kills_after_fire: int = 0
    broken_files: list[str] = field(default_factory=list)
    #: Commands of a killed scheduler still running once its successor fired.
    orphans: int = 0
    #: Commands still running 0.2 s after the kill (a grandchild such as the script's
    #: ``sleep`` escapes PR_SET_PDEATHSIG; the successor kills its group at start).
    outlived_kill: int = 0
    fires: FireCount | None = None


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _wait_for_a_fire(log: Path, since: int, process: subprocess.Popen[str]) -> None:
    """Until the job log grows past ``since`` bytes: a run has just started (or ended)."""
    wait_for(lambda: _size(log) > since, what="a fire", process=process, timeout=30)


def _attack(root: Path, kills: int, seed: int) -> Attack:
    rng = random.Random(seed)
    attack = Attack()
    environment = StsEnv(root)
    try:
        environment.write("faultjobs.py", JOBS_MODULE)
        environment.write("faultjob.sh", JOB_SCRIPT)
        config = environment.write("sts.ini", CONFIG)
        log = root / "jobs.log"
        marker = uuid.uuid4().hex
        environment.env.update(FAULT_LOG=str(log), FAULT_MARKER=marker)
        database = environment.database("faults")
        left: set[int] = set()  # commands of killed schedulers, not yet seen gone
        for number in range(kills):
            size = _size(log)
            process = environment.start("run", str(config))
            how = number % 3
            if how == 0:  # anywhere in the start-up, before or after the first fires
                time.sleep(rng.uniform(0, 0.3))
            else:
                _wait_for_a_fire(log, size, process)
                attack.orphans += _still_running(left, marker)
                if how == 1:  # a random moment of a running scheduler
                    time.sleep(rng.uniform(0, 0.3))
                else:  # just after a fire: the moment its run starts
                    _wait_for_a_fire(log, _size(log), process)
                    attack.kills_after_fire += 1
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)
            attack.kills += 1
            time.sleep(ORPHAN_GRACE)
            found = set(processes_marked(marker))
            attack.outlived_kill += len(found - left)
            left |= found
            if database.exists():
                verdict = integrity(database)
                if verdict != "ok":
                    attack.broken_files.append(verdict)
        # A last, clean run: it records the runs the last kill interrupted.
        size = _size(log)
        process = environment.start("run", str(config))
        _wait_for_a_fire(log, size, process)
        attack.orphans += _still_running(left, marker)
        code, _, err = environment.stop(process)
        assert code == 0, err
        attack.fires = count_fires(log, database)
        return attack
    finally:
        environment.close()


def _still_running(left: set[int], marker: str) -> int:
    """How many of the commands killed schedulers ``left`` still run beside their successor
    (which has fired by now); they are ended, and forgotten."""
    running = left & set(processes_marked(marker))
    kill_all(sorted(running))
    left.clear()
    return len(running)


@pytest.fixture(scope="module")
def attacks(tmp_path_factory: pytest.TempPathFactory) -> list[Attack]:
    shares = [KILLS // STATE_FILES + (i < KILLS % STATE_FILES) for i in range(STATE_FILES)]
    with ThreadPoolExecutor(STATE_FILES) as pool:
        futures = [
            pool.submit(_attack, tmp_path_factory.mktemp(f"kill9-{i}"), share, 1000 + i)
            for i, share in enumerate(shares)
        ]
        found = [future.result() for future in futures]
    _report(found)
    return found


def _report(attacks: list[Attack]) -> None:
    """The counts, for ``pytest -s`` and the closing note."""
    fires = [attack.fires for attack in attacks if attack.fires is not None]
    outcomes: Counter[str] = Counter()
    for count in fires:
        outcomes.update(count.outcomes)
    print(
        f"\nkill -9: {sum(a.kills for a in attacks)} kills "
        f"({sum(a.kills_after_fire for a in attacks)} just after a fire); "
        f"runs started {sum(sum(c.starts.values()) for c in fires)}, "
        f"completed {sum(sum(c.done.values()) for c in fires)}; "
        f"completed fires run twice {sum(len(c.completed_twice) for c in fires)}, "
        f"fires started twice {sum(len(c.started_twice) for c in fires)}, "
        f"fires with two success records {sum(len(c.recorded_twice) for c in fires)}, "
        f"started runs without a record {sum(len(c.unrecorded) for c in fires)}; "
        f"files failing integrity_check {sum(len(a.broken_files) for a in attacks)}; "
        f"commands running beside a successor {sum(a.orphans for a in attacks)} "
        f"(alive 0.2 s after the kill {sum(a.outlived_kill for a in attacks)}); "
        f"records {dict(outcomes)}"
    )


def test_a_killed_scheduler_never_runs_a_completed_fire_again(attacks: list[Attack]) -> None:
    for attack in attacks:
        assert attack.fires is not None
        assert attack.fires.completed_twice == []
        # Stronger, and what commit-before-run gives: no fire whose run started runs again.
        assert attack.fires.started_twice == []
        assert attack.fires.recorded_twice == []
        assert sum(attack.fires.done.values()) > 0


def test_every_started_run_has_a_record_after_kills(attacks: list[Attack]) -> None:
    """A run that started is recorded: with its outcome, or as ``interrupted``."""
    for attack in attacks:
        assert attack.fires is not None
        assert attack.fires.unrecorded == []
        assert attack.fires.outcomes["interrupted"] > 0


def test_every_state_file_passes_integrity_check_after_each_kill(attacks: list[Attack]) -> None:
    assert sum(attack.kills for attack in attacks) == KILLS
    assert [attack.broken_files for attack in attacks] == [[]] * len(attacks)


def test_no_command_of_a_killed_scheduler_runs_beside_its_successor(
    attacks: list[Attack],
) -> None:
    assert [attack.orphans for attack in attacks] == [0] * len(attacks)
