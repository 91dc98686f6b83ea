"""Secrets: `${secret:NAME}` resolved at run time by the configured providers, and the
value never in a log, the state store, `sts config` or an error message."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from config_helpers import Greeter, make_plugins, write_config

import sts
from sts.testing import VirtualClock
from sts_core.redaction import SecretError, redact
from sts_core.service.config import ConfigError, load_config
from sts_core.service.secrets import DirectorySecrets, EnvironmentSecrets, resolve_secrets

SECRET = "s3cr3t-Value-4242"


def test_environment_and_directory_providers(tmp_path: Path) -> None:
    (tmp_path / "db_password").write_text("from-a-file\n")
    providers = [EnvironmentSecrets({"TOKEN": "from-env"}), DirectorySecrets(tmp_path)]
    text = "token=${secret:TOKEN} db=${secret:db_password}"
    assert resolve_secrets(text, providers) == "token=from-env db=from-a-file"
    assert resolve_secrets("no reference", providers) == "no reference"


def test_the_first_provider_that_has_it_wins(tmp_path: Path) -> None:
    (tmp_path / "TOKEN").write_text("file")
    env = EnvironmentSecrets({"TOKEN": "env"})
    assert resolve_secrets("${secret:TOKEN}", [env, DirectorySecrets(tmp_path)]) == "env"
    assert resolve_secrets("${secret:TOKEN}", [DirectorySecrets(tmp_path), env]) == "file"


def test_a_missing_secret_names_it_and_where_it_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(SecretError) as caught:
        resolve_secrets("${secret:API_KEY}", [EnvironmentSecrets({}), DirectorySecrets(tmp_path)])
    assert "'API_KEY'" in str(caught.value)
    assert "the environment variable API_KEY" in str(caught.value)
    assert str(tmp_path / "API_KEY") in str(caught.value)


def test_a_secret_name_cannot_leave_the_directory(tmp_path: Path) -> None:
    (tmp_path / "outside").write_text("do not read")
    inner = tmp_path / "secrets"
    inner.mkdir()
    with pytest.raises(SecretError, match=r"'\.\.' and absolute paths are refused"):
        resolve_secrets("${secret:../outside}", [DirectorySecrets(inner)])


def test_resolved_values_are_redacted_from_text() -> None:
    value = resolve_secrets("${secret:T}", [EnvironmentSecrets({"T": "redact-me-please"})])
    assert value == "redact-me-please"
    assert redact("error: redact-me-please was refused") == "error: ******** was refused"


@pytest.mark.parametrize(
    "secret",
    ['Qz\'s "Jy" Wk', "Qz\\Jy\\\\Wk", "Qz\nJy\r\nWk", "Qzü€Jy\u200bWk", "Qz'\"\\\nüJyWk"],
    ids=["quotes", "backslashes", "newlines", "unicode", "all"],
)
@pytest.mark.parametrize(
    "encode",
    [
        str,
        repr,
        ascii,
        lambda value: repr([value, "'"]),
        json.dumps,
        lambda value: json.dumps(value, ensure_ascii=False),
        lambda value: json.dumps({"error": repr(value)}),
        lambda value: repr(json.dumps(value)),
    ],
    ids=[
        "raw",
        "repr",
        "ascii",
        "repr-in-list",
        "json",
        "json-utf8",
        "json-of-repr",
        "repr-of-json",
    ],
)
def test_a_secret_is_redacted_in_every_encoded_form(secret: str, encode: Any) -> None:
    resolve_secrets("${secret:T}", [EnvironmentSecrets({"T": secret})])
    text = f"before {encode(secret)} after"
    redacted = redact(text)
    assert redacted.startswith("before ") and redacted.endswith(" after"), redacted
    assert "********" in redacted
    assert not [marker for marker in ("Qz", "Jy", "Wk") if marker in redacted], redacted


class VaultSecrets:
    """A secret provider plugin with an option."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def get(self, name: str) -> str | None:
        return f"{self.prefix}-{name}" if name.startswith("vault_") else None


class VaultPlugin:
    @sts.hookimpl
    def sts_register_secret_providers(self, register: Any) -> None:
        register("vault", VaultSecrets)


def test_a_plugin_provider_chosen_in_the_config(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "[secrets]\nproviders = vault, env\n[secrets:vault]\nprefix = v1\n"
        "[job:g]\ntype = greet\nwho = ${secret:vault_user}\nschedule = every 1s\n",
    )
    config = load_config(path, environ={}, plugins=make_plugins(VaultPlugin()))
    scheduler = config.build_scheduler(store=sts.MemoryStore())
    task = scheduler.get_job("g").task
    assert isinstance(task, Greeter)
    assert task.who == "${secret:vault_user}"  # the task gets the reference...
    assert sts.resolve_secrets(task.who) == "v1-vault_user"  # ...and resolves it at run time


def test_the_secret_never_reaches_logs_store_render_or_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, virtual_clock: VirtualClock
) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET)
    log_file = tmp_path / "logs" / "sts.log"
    json_file = tmp_path / "logs" / "sts.jsonl"
    path = write_config(
        tmp_path,
        f"""
[scheduler]
state = sqlite
[state]
path = {tmp_path}/state.db
flush_interval = none

[logging]
level = DEBUG
file = {log_file}
sinks = json
[logging:json]
path = {json_file}

[job:notify]
type = greet
who = ${{secret:API_TOKEN}}
out = {tmp_path}/out.txt
fail = yes
schedule = every 10s
""",
    )
    config = load_config(path, plugins=make_plugins())
    scheduler = config.build_scheduler(clock=virtual_clock)

    async def main() -> None:
        async with scheduler:
            await asyncio.sleep(25)

    virtual_clock.run(main())
    history = scheduler.store.history("notify")
    scheduler.store.close()
    for handler in logging.getLogger("sts").handlers:
        handler.flush()

    # It was resolved and used, at run time...
    assert (tmp_path / "out.txt").read_text() == f"hello {SECRET}\n" * 2
    # ...and is nowhere else.
    log_text = log_file.read_text()
    json_text = json_file.read_text()
    assert "greeting ********" in log_text and "the server refused ********" in log_text
    assert "greeting ********" in json_text
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))
    assert len(stored) > 0
    places = {
        "log file": log_text,
        "json log": json_text,
        "sqlite files": stored.decode("latin-1"),
        "sts config": config.render(),
    }
    for where, text in places.items():
        assert SECRET not in text, where
    assert [record.outcome for record in history] == [sts.Outcome.FAILED] * 2
    assert all(SECRET not in repr(record) for record in history)


def test_the_reopened_store_holds_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, virtual_clock: VirtualClock
) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET)
    text = (
        f"[scheduler]\nstate = sqlite\n[state]\npath = {tmp_path}/s.db\n[logging]\nconsole = off\n"
        "[job:notify]\ntype = greet\nwho = ${secret:API_TOKEN}\nfail = yes\nschedule = every 10s\n"
    )
    config = load_config(write_config(tmp_path, text), plugins=make_plugins())
    scheduler = config.build_scheduler(clock=virtual_clock)

    async def main() -> None:
        async with scheduler:
            await asyncio.sleep(11)

    virtual_clock.run(main())
    scheduler.store.close()
    reopened = config.build_scheduler(clock=virtual_clock).store
    try:
        records = reopened.history("notify")
        assert [record.outcome for record in records] == [sts.Outcome.FAILED]
        assert records[0].error == "RuntimeError: the server refused ********"
        assert records[0].output == {"stderr": "said hello to ********"}
        assert SECRET not in (records[0].traceback or "-")
    finally:
        reopened.close()


def test_a_plain_text_secret_is_redacted_in_render(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, "[source:etcd]\npassword = hunter2-plain\napi_key = ${secret:KEY}\n"
    )
    rendered = load_config(path, environ={}).render()
    assert "hunter2-plain" not in rendered
    assert "password = ********" in rendered
    assert "api_key = ${secret:KEY}" in rendered  # a reference names, it does not reveal


def test_error_messages_never_show_a_secret_like_value(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "[job:g]\ntype = greet\nwho = x\nschedule = every 1s\npassword = hunter2-plain\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={}, plugins=make_plugins()).jobs()
    assert "[job:g] password" in str(caught.value)
    assert "hunter2-plain" not in str(caught.value)


@pytest.mark.parametrize(
    ("mode", "value", "warned"),
    [
        (0o644, "hunter2-plain", True),
        (0o640, "hunter2-plain", True),
        (0o600, "hunter2-plain", False),
        (0o644, "${secret:DB_PASSWORD}", False),
    ],
)
def test_plain_text_secret_in_a_shared_file_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int, value: str, warned: bool
) -> None:
    path = write_config(tmp_path, f"[source:db]\ndb_password = {value}\n", mode=mode)
    with caplog.at_level(logging.WARNING, logger="sts.config"):
        config = load_config(path, environ={})
    assert bool(config.warnings) is warned
    assert bool(caplog.records) is warned
    if warned:
        warning = config.warnings[0]
        assert f"{path}:2" in warning and "[source:db] db_password" in warning
        assert "chmod 600" in warning
        assert "hunter2-plain" not in warning + caplog.text


EMBEDDED = (
    "[job:dump]\ntype = greet\nwho = x\nschedule = every 1h\n"
    "env = PGPASSWORD=hunter2secret PGUSER=app\n"
    "headers =\n    X-Api-Key: k3y-plain-text\n    Accept: text/plain\n"
    "args = --password=pa55word --verbose\n"
    "url = https://example.org/feed?token=t0ken-plain&page=2\n"
    "safe = DB_PASSWORD=${secret:PG}\n"
)


def test_secret_like_names_inside_values_are_redacted_in_render(tmp_path: Path) -> None:
    rendered = load_config(write_config(tmp_path, EMBEDDED, mode=0o600), environ={}).render()
    for plain in ("hunter2secret", "k3y-plain-text", "pa55word", "t0ken-plain"):
        assert plain not in rendered
    assert "env = PGPASSWORD=******** PGUSER=app" in rendered
    assert "X-Api-Key: ********" in rendered and "Accept: text/plain" in rendered
    assert "args = --password=******** --verbose" in rendered
    assert "url = https://example.org/feed?token=********&page=2" in rendered
    assert "safe = DB_PASSWORD=${secret:PG}" in rendered


def test_secret_like_names_inside_values_warn_in_a_shared_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, EMBEDDED, mode=0o644)
    with caplog.at_level(logging.WARNING, logger="sts.config"):
        config = load_config(path, environ={})
    by_key = {warning.split("]")[1].split()[0]: warning for warning in config.warnings}
    assert sorted(by_key) == ["args", "env", "headers", "url"]
    assert "plain-text secret in PGPASSWORD" in by_key["env"]
    assert f"{path}:5" in by_key["env"] and "chmod 600" in by_key["env"]
    assert "in X-Api-Key" in by_key["headers"] and "in password" in by_key["args"]
    assert "# warning: " + config.warnings[0] in config.render()
    text = caplog.text + "".join(config.warnings)
    assert "hunter2secret" not in text and "k3y-plain-text" not in text
    assert load_config(write_config(tmp_path, EMBEDDED, mode=0o600), environ={}).warnings == []


def test_any_handler_of_an_sts_logger_gets_records_with_the_secret_hidden(
    virtual_clock: VirtualClock,
) -> None:
    """One choke point: an application's own handler (or a plugin's sink) on the ``sts``
    loggers never sees a resolved secret, in the message or in the traceback."""
    import io

    value = resolve_secrets("${secret:T}", [EnvironmentSecrets({"T": SECRET})])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # a plain handler, as an application adds
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep()
    sts_logger = logging.getLogger("sts")
    for added in (handler, keep):
        sts_logger.addHandler(added)

    async def leaky() -> None:
        raise RuntimeError(f"login refused for password {value!r}")

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(sts.FunctionTask(leaky, name="leaky"), "every 10s")
            await asyncio.sleep(15)
        logging.getLogger("sts.shell").warning("child logger: %s", value)

    try:
        virtual_clock.run(main())
    finally:
        for added in (handler, keep):
            sts_logger.removeHandler(added)
    text = stream.getvalue()
    assert "login refused" in text and "Traceback" in text and "child logger" in text
    assert SECRET not in text and repr(SECRET) not in text
    assert all(SECRET not in record.getMessage() for record in seen)


def test_a_log_call_with_bad_arguments_never_fails_its_caller_once_a_secret_is_known() -> None:
    """The record is made (and redacted) in the caller: a message whose arguments do not
    fit, or whose argument cannot be shown, must not raise there."""
    value = resolve_secrets("${secret:T}", [EnvironmentSecrets({"T": SECRET})])
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    class Unshowable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    logger = logging.getLogger("sts")
    keep = Keep()
    logger.addHandler(keep)
    try:
        logger.error("value %s %s", value)
        logger.error("shown %s", Unshowable())
    finally:
        logger.removeHandler(keep)
    assert len(seen) == 2 and all(SECRET not in line for line in seen)
