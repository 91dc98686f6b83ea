"""sts-email from a config file: [email] shared by email jobs and the email: channel, and
the SMTP password kept out of logs, records, ``sts config``, the state file and the mail."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from email_server import PASSWORD, USERNAME, StartServer

import sts

LEAKY = """
import sts


async def leak():
    # A task whose error quotes the secret it resolved (a careless connection string).
    password = sts.resolve_secrets("${secret:SMTP_PASSWORD}")
    raise RuntimeError(f"cannot log in to db with {password}")
"""


def without_config_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The file alone configures these tests: the caller's ``STS_<SECTION>_<KEY>`` and
    ``LOG_LEVEL`` (which the config's environment layer reads) are dropped."""
    for name in list(os.environ):
        if name == "LOG_LEVEL" or (name.startswith("STS_") and name.count("_") >= 2):
            monkeypatch.delenv(name)


def test_config_jobs_share_email_settings_and_never_reveal_the_password(
    smtp_server: StartServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    without_config_variables(monkeypatch)
    server = smtp_server("starttls", auth=True)
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    (tmp_path / "leaky_job.py").write_text(LEAKY)
    monkeypatch.syspath_prepend(str(tmp_path))
    state = tmp_path / "state.db"
    config_file = tmp_path / "sts.ini"
    config_file.write_text(f"""
[scheduler]
name = mailer
timezone = UTC

[state]
path = {state}
flush_interval = 0.05

[logging]
level = DEBUG
file = {tmp_path}/sts.log

[email]
host = 127.0.0.1
port = {server.port}
security = starttls
username = {USERNAME}
password = ${{secret:SMTP_PASSWORD}}
ca_file = {server.ca_file}
from = STS <sts@example.org>

[notify]
notify = email:ops@example.org

[job:report]
type = email
schedule = every 1h
to = team@example.org
subject = Report of {{job}}
body = Run {{run_id}} on {{scheduler}}

[job:backup]
type = python
callable = leaky_job:leak
schedule = every 1h
retries = 1
backoff = 0.01
email.notify_subject = [backup] {{summary}}
""")
    # What `sts config` prints, from the command itself.
    shown = subprocess.run(
        [sys.executable, "-m", "sts", "config", "--config", str(config_file)],
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    rendered = shown.stdout

    async def main() -> None:
        scheduler = sts.TaskScheduler.from_config(config_file)
        async with asyncio.timeout(60):
            async with scheduler:
                for job in ("report", "backup"):
                    await asyncio.wrap_future(scheduler.run_now(job))
                for _ in range(200):  # the failure mail is delivered in its own task
                    if len(server.mailbox.messages) == 2:
                        break
                    await asyncio.sleep(0.05)

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    [report] = [mail for mail in server.mailbox.messages if mail.message["X-STS-Event"] is None]
    [alert] = [mail for mail in server.mailbox.messages if mail.message["X-STS-Event"]]
    assert str(report.message["Subject"]) == "Report of report"
    assert report.message["From"] == "STS <sts@example.org>"
    assert str(alert.message["Subject"]).strip().startswith("[backup] backup failed on ")
    assert alert.message["From"] == "STS <sts@example.org>"
    assert "cannot log in to db with ********" in alert.message.get_content()
    assert server.mailbox.logins == [("PLAIN", USERNAME, True)] * 2 or all(
        login[1:] == (USERNAME, True) for login in server.mailbox.logins
    )

    captured = capsys.readouterr()
    places = {
        "log records": "\n".join(record.getMessage() for record in caplog.records),
        # What STS's own sinks wrote (pytest's caplog formats tracebacks itself, unredacted:
        # it is no STS output).
        "log file": (tmp_path / "sts.log").read_text(),
        "stdout and stderr": captured.out + captured.err,
        "sts config": rendered,
        # The database and its write-ahead log, where the latest writes are.
        "state file": "".join(
            path.read_bytes().decode("utf-8", "replace") for path in tmp_path.glob("state.db*")
        ),
        "mails": "\n".join(mail.raw.decode("utf-8", "replace") for mail in server.mailbox.messages),
    }
    assert "${secret:SMTP_PASSWORD}" in rendered  # the reference is shown, not its value
    for place in ("state file", "log file", "stdout and stderr", "log records"):
        assert "cannot log in to db with ********" in places[place], place
    for place, text in places.items():
        assert PASSWORD not in text, place


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[email]\ncolour = red\n", ["sts.ini:3: [email] colour: unknown option for [email]"]),
        (
            "[email]\nsecurity = ssl\n",
            ["[job:report]", "invalid security 'ssl': expected one of starttls, tls, none"],
        ),
        ("[email]\nport = smtp\n", ["sts.ini:3: [email] port: invalid value 'smtp'"]),
        (
            "[job:other]\ntype = python\ncallable = os:getcwd\nschedule = every 1h\n"
            "notify = email:ops@example.org\nemail.notify_subject = {nope}\n",
            ["[job:other] notify", "unknown placeholder {nope} in notify_subject"],
        ),
        (
            "[job:other]\ntype = python\ncallable = os:getcwd\nschedule = every 1h\n"
            "notify = email:not-an-address\n",
            ["[job:other] notify", "invalid address 'not-an-address'"],
        ),
    ],
)
def test_email_options_are_checked_when_the_config_loads(
    tmp_path: Path, text: str, expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    without_config_variables(monkeypatch)
    config_file = tmp_path / "sts.ini"
    config_file.write_text(
        "\n"
        + text
        + "\n[job:report]\ntype = email\nschedule = every 1h\nto = a@example.org\nbody = x\n"
    )
    with pytest.raises(sts.ConfigError) as raised:
        sts.TaskScheduler.from_config(config_file)
    message = str(raised.value)
    for part in expected:
        assert part.replace("sts.ini", str(config_file)) in message, message


def test_the_task_and_the_notifier_take_the_smtp_options_smtp_settings_build_takes() -> None:
    # Written out in three signatures on purpose: the config layer reads a task type's and
    # a notifier's options from their signatures, and both hand the SMTP ones to
    # SMTPSettings.build (one [email] section serves both). Names and defaults must agree.
    from sts_email import EmailNotifier, EmailTask, SMTPSettings

    smtp = {
        name: each.default
        for name, each in inspect.signature(SMTPSettings.build).parameters.items()
    }
    for factory in (EmailTask, EmailNotifier):
        options = inspect.signature(factory).parameters
        assert {name: options[name].default for name in smtp} == smtp
