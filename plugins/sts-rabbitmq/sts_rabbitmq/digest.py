"""A digest of what a job's definition means to a worker: its task (type and options) and
the policies a worker applies (timeout, retries). Every fire carries the scheduler's; a
worker whose own differs (the two run different configurations) refuses the fire instead
of running something other than what was scheduled."""

from __future__ import annotations

import hashlib
import re

import sts

# Object addresses differ from process to process, and say nothing of the definition.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def job_digest(job: sts.Job) -> str:
    task = job.task
    options = {
        key: value for key, value in sorted(getattr(task, "__dict__", {}).items()) if key != "_name"
    }
    policy = job.policy
    parts = [
        f"{type(task).__module__}.{type(task).__qualname__}",
        repr(options),
        repr(policy.timeout),
        repr(policy.retry),
    ]
    text = _ADDRESS.sub("", "\n".join(parts))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
