"""The README's promises: its set-up commands are what CI runs, its examples work."""

from __future__ import annotations

import re
from pathlib import Path

from sts_core.service.config import load_config

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def shell_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command() -> None:
    test_command = next(line for line in shell_commands() if line.endswith("pytest"))
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_the_readme_demo_command_runs_the_demo() -> None:
    demo = next(line for line in shell_commands() if "sts demo" in line)
    assert demo.startswith(
        "python3 -m venv .venv && .venv/bin/pip install -r .ci/requirements-run.txt"
    )


def test_the_readme_config_example_is_valid(tmp_path: Path) -> None:
    (ini,) = re.findall(r"```ini\n(.*?)```", README, re.S)
    path = tmp_path / "sts.ini"
    path.write_text(ini)
    path.chmod(0o600)
    config = load_config(path)
    scheduler = config.build_scheduler(store=__import__("sts").MemoryStore())
    (job,) = scheduler.jobs
    assert job.name == "backup" and job.schedule == "cron 0 3 * * *"
    assert job.policy.retry.retries == 3 and job.policy.timeout == 1800


def test_the_readme_quick_start_schedules_what_it_says() -> None:
    (code,) = re.findall(r"```python\n(.*?)```", README, re.S)
    assert "scheduler.run()" in code
    namespace: dict[str, object] = {}
    exec(code.replace("scheduler.run()", "pass"), namespace)  # everything but blocking
    scheduler = namespace["scheduler"]
    jobs = {job.name: job for job in scheduler.jobs}  # type: ignore[attr-defined]
    assert jobs["ExampleTask"].schedule == "every 10s"
    assert jobs["ExampleTask[2]"].schedule == "cron 0 0 * * *"
    assert str(jobs["ExampleTask[2]"].timezone) == "Europe/Berlin"
    assert jobs["ExampleTask[2]"].policy.retry.retries == 5
    assert jobs["ExampleTask"].policy.retry.retries == 3
    assert jobs["ExampleTask"].policy.timeout == 30
    assert jobs["cleanup"].schedule == "every 5m"
