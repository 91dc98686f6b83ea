"""A command that floods its output: summarised in the logs, not written in full, and the
file sink keeps the scheduler's other history."""

from __future__ import annotations

import sys
from pathlib import Path

from cli_helpers import sts_environment, wait_for

MIB = 1024 * 1024
FLOOD = (
    "import sys\n"
    "line = b'z' * 1023 + b'\\n'\n"
    "for _ in range(50 * 1024): sys.stdout.buffer.write(line)\n"
    "sys.stdout.buffer.write(b'THE END\\n')\n"
)


def test_fifty_mib_of_output_is_summarised_and_other_history_survives(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    with sts_environment(tmp_path) as sts:
        sts.write("flood.py", FLOOD)
        config = sts.write(
            "sts.ini",
            f"""
[scheduler]
name = flood
timezone = UTC

[logging]
console = off
file = {logs / "sts.log"}

[logging:file]
max_bytes = 2000000
backup_count = 1

[job:flood]
type = shell
command = {sys.executable} {tmp_path / "flood.py"}
schedule = every 1h
""",
        )
        process = sts.start("run", str(config))
        wait_for(sts.socket("flood").exists, what="the control socket", process=process)
        ran = sts.run("trigger", "flood", "--wait")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        code, _, err = sts.stop(process)
        assert code == 0, err
    files = sorted(logs.iterdir())
    text = "".join(path.read_text() for path in files)
    # What the scheduler logged before the flood is still there: nothing was rotated away.
    assert [path.name for path in files] == ["sts.log"]
    assert "control socket listening on" in text and "scheduler flood stopped" in text
    assert sum(path.stat().st_size for path in files) < 2 * MIB
    assert text.count("stdout: " + "z" * 1023) == 1024  # the first MiB, line by line
    assert "stdout: ... 49 MiB more not logged (log_limit 1.0 MiB), kept the last 64 KiB" in text
    assert "THE END" not in text
