"""Options from Python values and from config.ini text; no process is started here."""

from __future__ import annotations

import pytest
from sts_shell import ShellTask
from sts_shell.options import (
    parse_command,
    parse_env,
    parse_flag,
    parse_size,
    parse_success_codes,
)

import sts


def test_command_text_is_split_with_shell_quoting_not_run_by_a_shell() -> None:
    assert parse_command('/usr/local/bin/backup --full "My Documents"', shell=False) == [
        "/usr/local/bin/backup",
        "--full",
        "My Documents",
    ]
    assert parse_command("echo '$(date)' ';' a\\ b", shell=False) == [
        "echo",
        "$(date)",
        ";",
        "a b",
    ]


def test_command_with_an_unclosed_quote_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"invalid command 'backup \"My Docs': No closing"):
        parse_command('backup "My Docs', shell=False)


@pytest.mark.parametrize("command", ["", "   ", []])
def test_empty_command_is_an_error(command: str | list[str]) -> None:
    with pytest.raises(ValueError, match="it is empty"):
        parse_command(command, shell=False)


def test_command_list_items_must_be_text() -> None:
    with pytest.raises(ValueError, match="argument 1 is 5"):
        parse_command(["sleep", 5], shell=False)  # type: ignore[list-item]


def test_secret_in_an_argument_is_refused_because_ps_shows_arguments() -> None:
    with pytest.raises(ValueError, match=r"argument 1 refers to a secret.*env = PASSWORD="):
        parse_command("mysql --password=${secret:DB}", shell=False)
    with pytest.raises(ValueError, match=r"the shell code refers to a secret"):
        parse_command("mysql --password=${secret:DB} < dump.sql", shell=True)


def test_shell_mode_keeps_one_string_and_refuses_placeholders() -> None:
    assert parse_command("tar c /srv | gzip > x.gz", shell=True) == ["tar c /srv | gzip > x.gz"]
    with pytest.raises(ValueError, match=r"STS_JOB"):
        parse_command("backup --tag {job}", shell=True)
    with pytest.raises(ValueError, match="one string of shell code"):
        parse_command(["ls", "-l"], shell=True)


def test_placeholders_are_replaced_inside_one_argument_and_can_be_escaped() -> None:
    facts = {"run_id": "ab12", "fire_time": "t", "job": "a b; c", "attempt": "2"}
    assert sts.fill_placeholders("--tag={job}-{run_id}", facts) == "--tag=a b; c-ab12"
    assert sts.fill_placeholders("{{job}} {attempt}", facts) == "{job} 2"
    assert sts.fill_placeholders("awk '{print $1}'", facts) == "awk '{print $1}'"


def test_env_text_is_key_value_entries_with_shell_quoting() -> None:
    text = 'LANG=C.UTF-8 "GREETING=hello world"\n  TOKEN=${secret:API_TOKEN} EMPTY='
    assert parse_env(text) == {
        "LANG": "C.UTF-8",
        "GREETING": "hello world",
        "TOKEN": "${secret:API_TOKEN}",
        "EMPTY": "",
    }
    assert parse_env({"A": "1"}) == {"A": "1"}
    assert parse_env(None) == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("LANG=C verbose", r"env entry 2 'verbose': expected KEY=value"),
        ("1X=a", r"env entry 1 '1X=a': '1X' is not a variable name"),
        ("A=1 A=2", r"env entry 2 'A=2': A is set twice"),
        ('A="open', r"No closing quotation"),
        ({"A": 1}, r"env key 'A': the value 1 is not a string"),
    ],
)
def test_bad_env_names_the_entry(env: str | dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_env(env)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "size"),
    [("64KiB", 65536), ("1MiB", 1048576), ("500kB", 500000), ("100", 100), ("2 GiB", 2 << 30)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("value", ["12 parsecs", "KiB", "-1", -1, True, "1.5MiB"])
def test_bad_size_says_what_is_valid(value: object) -> None:
    with pytest.raises(ValueError, match=r"invalid output_limit"):
        parse_size(value)  # type: ignore[arg-type]


def test_success_codes_from_text_or_numbers() -> None:
    assert parse_success_codes("0, 3") == {0, 3}
    assert parse_success_codes("0 3 3") == {0, 3}
    assert parse_success_codes((0,)) == {0}
    with pytest.raises(ValueError, match=r"entry 2 \('ok'\) is not an exit code"):
        parse_success_codes("0 ok")
    with pytest.raises(ValueError, match=r"entry 1 \(256\)"):
        parse_success_codes([256])
    with pytest.raises(ValueError, match="it is empty"):
        parse_success_codes(" ")


def test_flags_from_config_words() -> None:
    assert parse_flag("Yes", what="shell") is True
    assert parse_flag("off", what="shell") is False
    with pytest.raises(ValueError, match=r"invalid env_clear 'maybe': expected true or false"):
        parse_flag("maybe", what="env_clear")


def test_construction_from_config_ini_strings() -> None:
    # What a config loader hands over for [job] type = shell: every value as text.
    task = ShellTask(
        command='/usr/local/bin/backup --full "My Documents"',
        env="LANG=C.UTF-8 PGPASSWORD=${secret:DB_PASSWORD}",
        env_clear="true",
        cwd="/srv",
        shell="false",
        success_codes="0, 3",
        stdin="yes",
        output_limit="1KiB",
        kill_grace="250ms",
    )
    assert task.arguments == ["/usr/local/bin/backup", "--full", "My Documents"]
    assert task.env == {"LANG": "C.UTF-8", "PGPASSWORD": "${secret:DB_PASSWORD}"}
    assert (task.env_clear, task.shell, task.cwd) == (True, False, "/srv")
    assert task.success_codes == {0, 3}
    assert (task.output_limit, task.kill_grace, task.stdin) == (1024, 0.25, "yes")
    assert task.name == "backup"


def test_bad_kill_grace_names_the_option() -> None:
    with pytest.raises(ValueError, match=r"invalid kill_grace 'soon'"):
        ShellTask("true", kill_grace="soon")


def test_tasks_of_the_same_program_get_distinct_names() -> None:
    scheduler = sts.TaskScheduler()
    first, second = ShellTask("rsync a b"), ShellTask("rsync c d")
    scheduler.add_task(first)
    scheduler.add_task(second)
    assert [task.name for task in scheduler.tasks] == ["rsync", "rsync-2"]
    assert ShellTask("echo hi", shell=True).name == "shell"
    assert ShellTask("echo hi", name="greet").name == "greet"


def test_the_plugin_registers_the_shell_task_type() -> None:
    plugins = sts.create_plugins()
    assert plugins.task_types.get("shell") is ShellTask
