"""A webhook's options: from Python and from config.ini text, and the errors that name
what is wrong."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from cli_helpers import sts_environment
from sts_webhook import WebhookTask

import sts


def test_config_text_becomes_the_options() -> None:
    task = WebhookTask(
        "https://hooks.example.com/{job}",
        method="put",
        headers="Authorization: Bearer ${secret:TOKEN}\nX-Tag:  nightly ",
        form="a = 1\nb=two words",
        params="page=1\nq={job}",
        connect_timeout="2s",
        read_timeout="1m",
        expect="200-204, 304",
        follow_redirects="yes",
        max_response="1KiB",
        allow_hosts="*.example.com, 10.0.0.0/8\n192.168.1.5",
        deny_private="false",
        http2="false",
    )
    assert task.method == "PUT"
    assert task.headers == {"Authorization": "Bearer ${secret:TOKEN}", "X-Tag": "nightly"}
    assert task.form == [("a", "1"), ("b", "two words")]
    assert task.params == [("page", "1"), ("q", "{job}")]
    assert (task.sender.connect_timeout, task.sender.read_timeout) == (2.0, 60.0)
    assert task.sender.expect == frozenset({200, 201, 202, 203, 204, 304})
    assert task.sender.follow_redirects is True and task.sender.max_response == 1024
    assert task.sender.destinations.host_patterns == ("*.example.com",)
    assert [str(n) for n in task.sender.destinations.networks] == ["10.0.0.0/8", "192.168.1.5/32"]
    assert task.sender.destinations.deny_private is False
    assert task.sender.client_settings.http2 is False


def test_defaults() -> None:
    task = WebhookTask("https://hooks.example.com/")
    assert task.method == "POST" and task.sender.expect == frozenset(range(200, 300))
    assert task.sender.follow_redirects is False and task.sender.max_response == 64 * 1024
    assert (
        task.sender.destinations.deny_private is True and not task.sender.destinations.host_patterns
    )
    # The job policy `timeout` stays the job's: the task's own timeouts have other names.
    assert sts.JobPolicy.build(task).timeout is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "ftp://example.com/"}, "invalid url 'ftp://example.com/': expected an http"),
        ({"url": "https:///path"}, "invalid url 'https:///path'"),
        ({"method": "GET POST"}, "invalid method 'GET POST'"),
        ({"headers": "Authorization Bearer x"}, "invalid headers line 1 'Authorization Bearer x'"),
        ({"json": '{"a": }'}, "invalid json: Expecting value at line 1, column 7"),
        ({"json": "{}", "body": "x"}, "json and body are both given"),
        ({"form": "a=1\nnonsense"}, "invalid form line 2 'nonsense': expected key=value"),
        ({"expect": "2xx, banana"}, "entry 2 ('banana') is not a status code"),
        ({"max_response": "lots"}, "invalid max_response 'lots'"),
        ({"connect_timeout": "0s"}, "invalid connect_timeout '0s': it must be longer than zero"),
        ({"deny_private": "maybe"}, "deny_private"),
    ],
)
def test_bad_options_are_named(options: dict[str, str], message: str) -> None:
    arguments = {"url": "https://hooks.example.com/", **options}
    with pytest.raises(ValueError) as caught:
        WebhookTask(**arguments)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_a_config_error_names_the_file_line_and_key(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as env:
        env.write(
            "sts.ini",
            """
[job:ping]
type = webhook
schedule = every 1m
url = https://hooks.example.com/
expect = 2xx, banana
""",
        )
        result = env.run("--config", "sts.ini", "check")
    assert result.returncode == 2
    assert "sts.ini:6: [job:ping] expect: the task type 'webhook' refused" in result.stderr
    assert "entry 2 ('banana') is not a status code" in result.stderr


def test_the_task_and_the_notifier_default_the_request_options_as_the_sender_does() -> None:
    # Written out in three signatures on purpose: the config layer reads a task type's and
    # a notifier's options from their signatures, and both hand them to one Sender.
    from sts_webhook import WebhookNotifier
    from sts_webhook.sender import Sender

    sender = {name: each.default for name, each in inspect.signature(Sender).parameters.items()}
    task = inspect.signature(WebhookTask).parameters
    assert {name: task[name].default for name in sender} == sender
    notifier = inspect.signature(WebhookNotifier).parameters
    # A notification's answer needs no choice of status or redirects, and little of its body.
    assert set(sender) - set(notifier) == {"expect", "follow_redirects", "max_response"}
    shared = [name for name in sender if name in notifier]
    assert {name: notifier[name].default for name in shared} == {
        name: sender[name] for name in shared
    }
