"""``sts reload`` and SIGHUP on a real ``sts run`` of a config file: the diff is shown,
a bad file is refused with where and why (exit 2), and the scheduler runs on."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from cli_helpers import sts_environment, wait_for

CONFIG = """
[scheduler]
name = hup
timezone = UTC

[job:kept]
type = shell
command = true
schedule = every 1h

[job:moved]
type = shell
command = true
schedule = every 1h
"""


def jobs(sts: object) -> dict[str, dict[str, object]]:
    listed = sts.run("jobs", "--name", "hup", "--json")  # type: ignore[attr-defined]
    assert listed.returncode == 0, listed.stderr
    return {row["name"]: row for row in json.loads(listed.stdout)}


def test_sts_reload_prints_the_diff_and_refuses_a_bad_file(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        config = sts.write("sts.ini", CONFIG)
        process = sts.start("run", str(config))
        wait_for(sts.socket("hup").exists, what="the control socket", process=process)
        kept_before = jobs(sts)["kept"]

        # kept: a new schedule; moved: renamed m2 (one removed, one added); new: added.
        changed = CONFIG.replace("every 1h", "every 2h", 1).replace("[job:moved]", "[job:m2]")
        config.write_text(
            changed + "\n[job:new]\ntype = shell\ncommand = true\nschedule = every 5m\n"
        )
        done = sts.run("reload", "--name", "hup")
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0] == "reloaded (sts reload): +2 -1 ~1, 0 unchanged"
        assert "  + m2" in lines and "  + new" in lines and "  - moved" in lines
        assert "  ~ kept: schedule" in lines
        after = jobs(sts)
        assert set(after) == {"kept", "m2", "new"}
        assert after["kept"]["schedule"] == "every 2h" != kept_before["schedule"]

        good = config.read_text()
        config.write_text(good.replace("every 5m", "every fortnight"))
        refused = sts.run("reload", "--name", "hup")
        assert refused.returncode == 2
        assert refused.stdout.startswith("reload refused (sts reload): the running configuration")
        assert f"{config}:" in refused.stdout and "every fortnight" in refused.stdout
        assert set(jobs(sts)) == {"kept", "m2", "new"}  # nothing changed

        code, _, err = sts.stop(process)
        assert code == 0, err
        assert "reload refused" in err and "reloaded (sts reload): +2 -1 ~1" in err


def test_sighup_reloads_sts_run(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        config = sts.write("sts.ini", CONFIG)
        process = sts.start("run", str(config))
        wait_for(sts.socket("hup").exists, what="the control socket", process=process)
        config.write_text(CONFIG.replace("[job:moved]", "[job:renamed]"))
        process.send_signal(signal.SIGHUP)
        wait_for(
            lambda: set(jobs(sts)) == {"kept", "renamed"},
            what="the reload on SIGHUP",
            process=process,
        )
        assert process.poll() is None  # SIGHUP reloads, it does not end the scheduler
        code, _, err = sts.stop(process)
        assert code == 0, err
        assert "reloaded (SIGHUP): +1 -1 ~0, 1 unchanged" in err


def test_control_clients_get_a_reloaded_event(tmp_path: Path) -> None:
    import asyncio

    import sts

    with sts_environment(tmp_path) as sts_env:
        config = sts_env.write("sts.ini", CONFIG)
        process = sts_env.start("run", str(config))
        socket_path = sts_env.socket("hup")
        wait_for(socket_path.exists, what="the control socket", process=process)

        async def follow() -> dict[str, object]:
            async with sts.ControlClient(socket_path) as client:
                hello = await client.request("hello")
                assert "reload" in hello["commands"] and "reloaded" in hello["events"]
                await client.subscribe(["reloaded", "job_changed"])
                config.write_text(CONFIG.replace("every 1h", "every 3h", 1))
                answer = await client.request("reload")
                assert answer["ok"] and answer["changed"] == {"kept": ["schedule"]}
                seen: dict[str, object] = {}
                async for event in client.events():
                    seen[str(event["event"])] = event["data"]
                    if "reloaded" in seen:
                        return seen
                raise AssertionError("no reloaded event")

        seen = asyncio.run(follow())
        changed = seen["job_changed"]
        assert isinstance(changed, dict) and changed["change"] == "changed"
        assert changed["job"]["schedule"] == "every 3h"
        reloaded = seen["reloaded"]
        assert isinstance(reloaded, dict) and reloaded["summary"] == "+0 -0 ~1"
        code, _, err = sts_env.stop(process)
        assert code == 0, err
