"""No orphan commands: a command (and everything in its process group) does not outlive a
scheduler killed with ``kill -9``, and a restarted scheduler never runs a job beside the
copy a dead one left behind. Real ``sts run`` processes, real signals."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cli_helpers import StsEnv, sts_environment, wait_for
from control_helpers import answers

from sts import process_start_time, reap_orphaned_process_groups

CONFIG = """
[scheduler]
name = orphans
stop_grace = 1s
timezone = UTC

[job:long]
type = shell
shell = true
command = echo $$ >> {pids}; sleep 300 & sleep 301 & wait
schedule = every 1h
overlap = skip
"""


def _members(pgid: int) -> list[int]:
    members = []
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != "zombie":
                members.append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def _start(sts: StsEnv, tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    pids = tmp_path / "pids"
    config = sts.write("sts.ini", CONFIG.format(pids=pids))
    process = sts.start("run", str(config))
    wait_for(lambda: answers(sts.socket("orphans")), what="the control socket", process=process)
    return process, pids


def _trigger_and_find_group(sts: StsEnv, pids: Path, count: int) -> int:
    assert sts.run("trigger", "long").returncode == 0
    wait_for(lambda: pids.exists() and len(pids.read_text().split()) == count, what="the pid")
    pgid = int(pids.read_text().split()[-1])
    _started_groups.append(pgid)
    wait_for(lambda: len(_members(pgid)) == 3, what="the command and its two children")
    return pgid


_started_groups: list[int] = []


@pytest.fixture(autouse=True)
def _no_sleeps_left_behind() -> Iterator[None]:
    # When a test fails, what it proves has failed: its commands would run for 5 minutes.
    yield
    while _started_groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(_started_groups.pop(), signal.SIGKILL)


def _guard_of(process: subprocess.Popen[str]) -> psutil.Process:
    children = psutil.Process(process.pid).children()
    [guard] = [child for child in children if "read ignored" in " ".join(child.cmdline())]
    return guard


def test_kill_9_of_the_scheduler_kills_the_whole_group_at_once(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        process, pids = _start(sts, tmp_path)
        pgid = _trigger_and_find_group(sts, pids, 1)
        process.send_signal(signal.SIGKILL)
        process.wait()
        wait_for(lambda: not _members(pgid), timeout=10, what="the group to be killed")
        registry = tmp_path / "data" / "sts" / "process-groups"
        wait_for(lambda: not list(registry.glob("*.json")), what="the record to be removed")


def test_a_restarted_scheduler_kills_the_leftover_before_it_runs_the_job_again(
    tmp_path: Path,
) -> None:
    with sts_environment(tmp_path) as sts:
        process, pids = _start(sts, tmp_path)
        pgid = _trigger_and_find_group(sts, pids, 1)
        guard = _guard_of(process)
        # The worst case: the scheduler and its guard die together. The command itself
        # dies with its parent (PR_SET_PDEATHSIG); its children stay, in its group.
        guard.send_signal(signal.SIGKILL)
        process.send_signal(signal.SIGKILL)
        process.wait()
        # The two sleeps outlive a scheduler and guard killed at once.
        wait_for(lambda: len(_members(pgid)) == 2, what="only the two sleeps left in the group")
        restarted, _ = _start(sts, tmp_path)
        # A run asked for at once starts only after the leftover was killed.
        second = _trigger_and_find_group(sts, pids, 2)
        assert second != pgid
        assert not _members(pgid), "the new copy runs beside the old one"
        code, _, err = sts.stop(restarted)
        assert code == 0, err
    assert f"killed process group {pgid} of job=long" in err
    assert not _members(second)


def test_a_group_number_reused_by_another_program_is_left_alone(tmp_path: Path) -> None:
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    try:
        registry = tmp_path / "registry"
        registry.mkdir()
        record = {
            "owner_pid": dead_owner.pid,
            "owner_start": 1,
            "groups": [
                # The same group number, but another start time and no STS_RUN_ID: the
                # recorded group is gone and its number now belongs to someone else.
                {"pgid": stranger.pid, "leader_start": 1, "run_id": "abc", "job": "long"}
            ],
        }
        (registry / "1-1.json").write_text(json.dumps(record))
        assert reap_orphaned_process_groups(registry) == []
        assert stranger.poll() is None, "an unrelated process was killed"
        assert not list(registry.iterdir())
        # With the leader's true start time it is the recorded group: killed.
        record["groups"][0]["leader_start"] = process_start_time(stranger.pid)  # type: ignore[index]
        (registry / "1-1.json").write_text(json.dumps(record))
        assert [group.pgid for group in reap_orphaned_process_groups(registry)] == [stranger.pid]
        assert stranger.wait(timeout=5) == -signal.SIGKILL
    finally:
        stranger.kill()
        stranger.wait()


def test_a_group_recorded_before_its_start_is_found_by_its_run_id(tmp_path: Path) -> None:
    """A scheduler killed between the spawn and the record of the group's number left a
    record without a number; the command's child (which the death signal misses) carries
    the run's id and is killed, a process without it is left alone."""
    child = subprocess.Popen(
        ["sleep", "60"], start_new_session=True, env=os.environ | {"STS_RUN_ID": "r1"}
    )
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    try:
        registry = tmp_path / "registry"
        registry.mkdir()
        record = {
            "owner_pid": dead_owner.pid,
            "owner_start": 1,
            "groups": [
                {"pgid": None, "leader_start": None, "run_id": "r1", "job": "long"},
                {"pgid": None, "leader_start": None, "run_id": "r2", "job": "long"},
            ],
        }
        (registry / "1-1.json").write_text(json.dumps(record))
        killed = reap_orphaned_process_groups(registry)
        assert [group.run_id for group in killed] == ["r1"]
        assert child.wait(timeout=5) == -signal.SIGKILL
        assert stranger.poll() is None, "an unrelated process was killed"
    finally:
        for process in (child, stranger):
            process.kill()
            process.wait()


def test_a_record_of_a_live_scheduler_is_left_alone(tmp_path: Path) -> None:
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        registry = tmp_path / "registry"
        registry.mkdir()
        me = os.getpid()
        record = {
            "owner_pid": me,
            "owner_start": process_start_time(me),
            "groups": [
                {"pgid": stranger.pid, "leader_start": process_start_time(stranger.pid)}
                | {"run_id": "x", "job": "long"}
            ],
        }
        (registry / "me.json").write_text(json.dumps(record))
        assert reap_orphaned_process_groups(registry) == []
        assert stranger.poll() is None and (registry / "me.json").exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_an_unwritable_record_warns_once_and_fails_no_run(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        # The record's directory cannot be made: a file stands where it would be.
        (tmp_path / "data" / "sts").mkdir(parents=True)
        (tmp_path / "data" / "sts" / "process-groups").write_text("in the way")
        config = sts.write(
            "sts.ini",
            "[scheduler]\nname = orphans\n[job:quick]\ntype = shell\ncommand = true\n"
            "schedule = every 1h\n",
        )
        process = sts.start("run", str(config))
        wait_for(lambda: answers(sts.socket("orphans")), what="the control socket", process=process)
        for _ in range(2):
            ran = sts.run("trigger", "quick", "--wait")
            assert ran.returncode == 0, ran.stdout + ran.stderr
        code, _, err = sts.stop(process)
    assert code == 0, err
    assert err.count("cannot record the running commands' process groups") == 1, err
