"""Two ``sts run`` started at the same instant on one state file, fifty times.

Each pair shares the config and the data dir but not the runtime dir, so the control
socket cannot tell them apart: only the state file's lock can. Exactly one must fire;
the other exits 2 at once, with one line naming the file and the holder's pid and host.

``STS_FAULT_PAIRS`` changes the number of pairs (50 by default).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cli_helpers import STS, StsEnv, wait_for
from faults.fault_helpers import CONFIG, JOB_SCRIPT, JOBS_MODULE, log_lines

PAIRS = int(os.environ.get("STS_FAULT_PAIRS", "50"))
AT_ONCE = 5

#: The pids that fired, and how each process ended: (pid, exit code, stderr).
Pair = tuple[set[int], list[tuple[int, int, str]]]


def _start_pair(
    environment: StsEnv, config: Path, runtime_dirs: list[str]
) -> list[subprocess.Popen[str]]:
    """Both processes, the second started right after the first, each with its own
    runtime dir: everything but the state file is apart."""
    processes = []
    for _ in range(2):
        runtime_dirs.append(tempfile.mkdtemp(prefix="sts-pair-"))
        env = dict(environment.env, XDG_RUNTIME_DIR=runtime_dirs[-1])
        processes.append(
            subprocess.Popen(
                [str(STS), "run", str(config)],
                cwd=environment.root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    environment.processes.extend(processes)
    return processes


def _firing(log: Path) -> set[int]:
    """The pids of the schedulers whose python job ran."""
    return {int(pid) for _, job, _, pid in log_lines(log) if job == "py"}


def _one_pair(root: Path) -> Pair:
    """The pids that fired, and how each process ended: (pid, exit code, stderr)."""
    environment = StsEnv(root)
    runtime_dirs: list[str] = []
    try:
        environment.write("faultjobs.py", JOBS_MODULE)
        environment.write("faultjob.sh", JOB_SCRIPT)
        config = environment.write("sts.ini", CONFIG)
        log = root / "jobs.log"
        environment.env["FAULT_LOG"] = str(log)
        pair = _start_pair(environment, config, runtime_dirs)
        # Both have had their chance: one has exited and the other fired, or both fired.
        wait_for(
            lambda: (any(p.poll() is not None for p in pair) and log.exists())
            or len(_firing(log)) > 1,
            what="one scheduler to exit and the other to fire",
            timeout=60,
        )
        ended = []
        for process in pair:
            if process.poll() is None:
                code, _, err = environment.stop(process)
            else:
                _, err = process.communicate()
                code = process.returncode
            ended.append((process.pid, code, err))
        return _firing(log), ended
    finally:
        environment.close()
        for directory in runtime_dirs:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> list[Pair]:
    with ThreadPoolExecutor(AT_ONCE) as pool:
        futures = [
            pool.submit(_one_pair, tmp_path_factory.mktemp(f"pair-{i}")) for i in range(PAIRS)
        ]
        found = [future.result() for future in futures]
    both = sum(len(fired) > 1 for fired, _ in found)
    print(f"\ntwo schedulers started together: {PAIRS} pairs, both fired in {both}")
    return found


def test_two_schedulers_started_together_never_both_fire(pairs: list[Pair]) -> None:
    assert len(pairs) == PAIRS
    for fired, ended in pairs:
        assert len(fired) == 1, ended


def test_the_second_scheduler_exits_2_naming_the_file_and_the_holder(pairs: list[Pair]) -> None:
    host = socket.gethostname()
    for fired, ended in pairs:
        (winner,) = fired
        (loser,) = [(pid, code, err) for pid, code, err in ended if pid != winner]
        (kept,) = [(pid, code, err) for pid, code, err in ended if pid == winner]
        assert kept[1] == 0, kept[2]
        _, code, err = loser
        assert code == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert re.fullmatch(
            rf"sts run: error: the state database \S+faults\.db is in use by another scheduler "
            rf"\(pid {winner} on host {re.escape(host)}\): .*",
            lines[0],
        ), lines[0]
