"""A secret with quotes, backslashes, a newline and non-ASCII letters, leaked by a real
``sts run`` in every way a job can (a ``repr`` in an error, JSON in a log line, a line
longer than a log piece, output split across reads), appears in no form in the state
file, ``sts history``, or any sink's output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cli_helpers import sts_environment, wait_for

#: Markers no more than three characters apart: any leaked piece of four or more
#: characters of any encoded form contains one of them.
SECRET = "Zq\"Kw'\\Vx\nÜmlaut€Jz"
MARKERS = ("Zq", "Kw", "Vx", "mlaut", "Jz")

LEAKY = """
import json, logging, sts

def fail_with_repr():
    token = sts.resolve_secrets("${secret:LEAK_TOKEN}")
    logging.getLogger("sts.leaky").warning("sending %s", json.dumps({"token": token}))
    raise ValueError(f"rejected {token!r} in {[token]!r} ({ascii(token)})")
"""

# The secret straddles the 8 KiB log piece, and arrives in two reads a while apart.
SPLITTER = (
    "import os, sys, time\n"
    "token = os.environ['TOKEN']\n"
    "half = len(token) // 2\n"
    "sys.stdout.write('x' * (8192 - half) + token + 'y' * 10 + '\\n')\n"
    "sys.stderr.write('first ' + token[:half]); sys.stderr.flush(); time.sleep(0.3)\n"
    "sys.stderr.write(token[half:] + ' second\\n'); sys.stderr.flush()\n"
    "print(repr(token)); print(ascii(token))\n"
    "sys.exit(3)\n"
)


def _config(root: Path) -> str:
    return f"""
[scheduler]
name = leak
timezone = UTC

[logging]
level = INFO
console = on
file = {root / "logs" / "sts.log"}
sinks = json

[logging:json]
path = {root / "logs" / "sts.jsonl"}

[job:python-repr]
type = python
callable = leaky:fail_with_repr
schedule = every 1h

[job:shell-split]
type = shell
command = {sys.executable} {root / "splitter.py"}
env = TOKEN=${{secret:LEAK_TOKEN}}
schedule = every 1h
"""


def _leaks(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker in text]


def test_a_secret_leaks_in_no_encoded_form_into_store_history_or_sinks(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        sts.env["LEAK_TOKEN"] = SECRET
        sts.write("leaky.py", LEAKY)
        sts.write("splitter.py", SPLITTER)
        config = sts.write("sts.ini", _config(tmp_path))
        process = sts.start("run", str(config))
        wait_for(sts.socket("leak").exists, what="the control socket", process=process)
        for job in ("python-repr", "shell-split"):
            ran = sts.run("trigger", job, "--wait")
            assert ran.returncode == 1, ran.stderr  # both fail, as they should
            assert not _leaks(ran.stdout + ran.stderr), ran.stdout
        history = sts.run("history", "--limit", "10")
        history_json = sts.run("history", "--limit", "10", "--json")
        code, out, err = sts.stop(process)
        assert code == 0, err
        runs = json.loads(history_json.stdout)
        assert {run["job"] for run in runs} == {"python-repr", "shell-split"}
        # The leaks happened, redacted: each path was taken.
        python_run = next(run for run in runs if run["job"] == "python-repr")
        assert python_run["error"].startswith("ValueError: rejected '********' in ['********']")
        shell_run = next(run for run in runs if run["job"] == "shell-split")
        assert "x********y" in shell_run["output"]["stdout"].replace("\n", "")
        assert "first ******** second" in shell_run["output"]["stderr"]
        logs = tmp_path / "logs"
        artefacts = {
            "the state file": sts.database("leak").read_bytes().decode("utf-8", "replace"),
            "sts history": history.stdout,
            "sts history --json": history_json.stdout,
            "the console sink": out + err,
            "the file sink": (logs / "sts.log").read_text(),
            "the json sink": (logs / "sts.jsonl").read_text(),
        }
    for where, text in artefacts.items():
        assert "********" in text or where == "sts history", f"{where} shows no redaction"
        assert not _leaks(text), f"{where} leaks {_leaks(text)}"
    # The JSON sink's lines stay JSON, with the secret's JSON form redacted before encoding.
    lines = [json.loads(line) for line in artefacts["the json sink"].splitlines()]
    assert any('{"token": "********"}' in line["message"] for line in lines)
