"""Shared by the ``sts`` command tests: the console script run as a real process, in
directories of its own (XDG dirs in a temp dir), so no test touches the user's files."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The console script installed with the venv that runs the tests.
STS = Path(sys.executable).parent / "sts"


class StsEnv:
    """A home of its own for ``sts`` processes: config, state, runtime and log dirs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # Unix socket paths are limited to ~100 bytes: the runtime dir gets a short one.
        self.runtime = Path(tempfile.mkdtemp(prefix="sts-run-"))
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("STS_") and key not in ("LOG_LEVEL", "PYTHONPATH")
        }
        self.env.update(
            XDG_DATA_HOME=str(root / "data"),
            XDG_CONFIG_HOME=str(root / "config"),
            XDG_STATE_HOME=str(root / "state"),
            XDG_CACHE_HOME=str(root / "cache"),
            XDG_RUNTIME_DIR=str(self.runtime),
            PYTHONPATH=str(root),
            PYTHONUNBUFFERED="1",
        )
        self.processes: list[subprocess.Popen[str]] = []

    def database(self, name: str = "sts") -> Path:
        return self.root / "data" / "sts" / f"{name}.db"

    def socket(self, name: str = "sts") -> Path:
        return self.runtime / "sts" / f"{name}.sock"

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``sts ARGS`` to completion."""
        return subprocess.run(
            [str(STS), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """``sts ARGS`` in the background; stopped at the end of the test if still alive."""
        process = subprocess.Popen(
            [str(STS), *args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
        """SIGTERM, then wait: the exit code and the whole output."""
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=timeout)
        return process.returncode, out, err

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=30)
        shutil.rmtree(self.runtime, ignore_errors=True)


@contextmanager
def sts_environment(root: Path) -> Iterator[StsEnv]:
    environment = StsEnv(root)
    try:
        yield environment
    finally:
        environment.close()


def wait_for(
    condition: Callable[[], Any],
    *,
    timeout: float = 20,
    what: str = "the condition",
    process: subprocess.Popen[str] | None = None,
) -> Any:
    """Poll ``condition`` until it is truthy; fail naming ``what`` (and the process's
    output, when it died) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(
                f"the process exited ({process.returncode}) before {what}:\n{out}\n{err}"
            )
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows from the state file, read as another process would (never writing)."""
    if not database.exists():
        return []
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute(sql).fetchall()
    except sqlite3.OperationalError:  # the tables do not exist yet
        return []
    finally:
        connection.close()
