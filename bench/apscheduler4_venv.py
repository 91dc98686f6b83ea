"""APScheduler 4's own venv, made on first use: APScheduler 4 is an alpha that the bench's
venv cannot hold beside APScheduler 3 (one import name), so the replicas case runs it
with the interpreter of a venv of its own, kept in a cache directory
(``$STS_BENCH_CACHE``, else ``$XDG_CACHE_HOME/sts-bench``, else ``~/.cache/sts-bench``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: What the venv holds: APScheduler 4 and what its SQLAlchemy data store and its
#: PostgreSQL event broker need on PostgreSQL (SQLAlchemy's asyncio extra, asyncpg), and
#: sniffio, which its data store imports without declaring it (anyio 4.16 no longer
#: brings it).
REQUIREMENTS = (
    "apscheduler==4.0.0a6",
    # 4.0.0a6 starts tasks from asyncpg's notification callback, outside any task: anyio
    # 4.10 and later refuse that (NoEventLoopError), so the broker hears nothing.
    "anyio==4.9.0",
    "sqlalchemy[asyncio]>=2.0.24",
    "asyncpg>=0.29",
    "sniffio>=1.3",
)


def cache_dir() -> Path:
    explicit = os.environ.get("STS_BENCH_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sts-bench"


def apscheduler4_python() -> Path:
    """The interpreter of the venv, made (a minute, once) if it is missing or holds
    other requirements."""
    venv = cache_dir() / "apscheduler4"
    python = venv / "bin" / "python"
    marker = venv / "sts-bench-requirements.txt"
    wanted = "\n".join(REQUIREMENTS)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    print(f"making APScheduler 4's venv in {venv}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *REQUIREMENTS,
        ],
        check=True,
    )
    marker.write_text(wanted)
    return python
