"""The notifier scheme ``webhook:``: a job's failures, recoveries and missed fires posted to
a URL, as versioned JSON or as a Slack-compatible message.

``notify = webhook:https://hooks.example.org/sts`` posts :func:`json_payload`;
``webhook:slack+https://hooks.slack.com/services/...`` posts :func:`slack_payload` (Slack,
Mattermost and Rocket.Chat incoming webhooks take it); ``json+https://...`` says JSON
explicitly. ``format`` sets the default for plain URLs. The request goes through the same
:class:`~sts_webhook.sender.Sender` as the task type: the scheduler's pooled client, the
destination rules, the signature when ``signing_secret`` is given, an ``Idempotency-Key``
that is the same on each delivery retry of one notification.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import sts

from .options import parse_headers
from .sender import Sender, check_url, resolve_headers, resolve_url

#: The ``schema`` field of the JSON payload; a change that is not only an added field
#: gets a new version.
SCHEMA = "sts.notification/v1"
#: Several notifications in one request (``group_max`` above 1 in the ``json`` format).
GROUP_SCHEMA = "sts.notification-group/v1"
FORMATS = ("json", "slack")
#: A grouped Slack message gives an attachment to this many notifications and lists the
#: rest in one more (Slack shows at most 100 attachments).
_CHAT_DETAILS = 20
_COLOURS = {"failure": "#d40e0d", "missed": "#e9a820", "recovery": "#2eb886"}
#: How much of a run's output tail goes into a chat message.
_CHAT_TAIL = 1500


class WebhookNotifier:
    """Posts notifications to one URL.

    :param target: ``[json+|slack+]http(s)://...``; may be ``${secret:NAME}`` (a Slack URL
        is a credential).
    :param format: ``json`` or ``slack``, for a target without a ``json+``/``slack+`` prefix.
    :param headers: extra headers, ``Name: value`` lines (values may be ``${secret:NAME}``).
    :param signing_secret: a Standard Webhooks secret: the request is signed with it.
    :param allow_hosts: see the task type; the same destination rules apply.
    :param deny_private: see the task type.
    :param ca: a PEM file of CA certificates to verify the server with.
    :param connect_timeout: how long connecting may take.
    :param read_timeout: how long the server may stay silent.
    :param http2: offer HTTP/2 (``auto``: when h2 is installed).
    :param group_wait: how long the first notification waits for others to the same URL,
        to go in one request (docs/notifications.md#grouping).
    :param group_max: at most this many notifications in one request; ``1`` (the ``json``
        format's default, so that a receiver of ``sts.notification/v1`` gets what it
        expects): a request for each. In the ``json`` format a group is posted as
        ``sts.notification-group/v1``.
    :raises ValueError: for a bad target or option, naming it.
    """

    def __init__(
        self,
        target: str,
        *,
        format: Literal["json", "slack"] = "json",
        headers: str | Mapping[str, str] | None = None,
        signing_secret: str | None = None,
        allow_hosts: str | Sequence[str] | None = None,
        deny_private: bool | str = True,
        ca: str | None = None,
        connect_timeout: str | float = "10s",
        read_timeout: str | float = "30s",
        http2: bool | str = "auto",
        group_wait: str | float = 1.0,
        group_max: int | None = None,
    ) -> None:
        chosen, url = _split_format(target.strip())
        if format not in FORMATS:
            raise ValueError(f"invalid format {format!r}: expected json or slack")
        self.format = chosen or format
        self.group_wait = sts.parse_duration(group_wait, what="group_wait")
        if group_max is None:
            group_max = 1 if self.format == "json" else 100
        self.group_max = sts.parse_whole_number(group_max, what="group_max", minimum=1)
        self.url = check_url(url)
        self.headers = parse_headers(headers)
        self.sender = Sender(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            signing_secret=signing_secret,
            allow_hosts=allow_hosts,
            deny_private=deny_private,
            ca=ca,
            http2=http2,
            max_response="4KiB",
        )

    def __repr__(self) -> str:
        return f"<WebhookNotifier {self.format} {self.url!r}>"

    async def notify(self, event: sts.NotificationEvent) -> None:
        """Post ``event``; a 5xx or no answer raises for a delivery retry, a 4xx
        (``sts.PermanentError``) does not."""
        payload = json_payload(event) if self.format == "json" else slack_payload(event)
        await self._post(payload, message_id(event))

    async def notify_group(self, events: Sequence[sts.NotificationEvent]) -> None:
        """Post several notifications in one request, as :meth:`notify` posts one."""
        key = group_id(events)
        if self.format == "json":
            payload = group_json_payload(events, key)
        else:
            payload = group_slack_payload(events)
        await self._post(payload, key)

    async def _post(self, payload: dict[str, Any], key: str) -> None:
        content = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = resolve_headers(self.headers)
        headers.setdefault("Content-Type", "application/json")
        await self.sender.send(
            "POST", resolve_url(self.url), headers=headers, content=content, message_id=key
        )

    async def aclose(self) -> None:
        """Nothing of its own to close: it uses the scheduler's pooled client, which the
        plugin closes when the scheduler stops."""


def _split_format(target: str) -> tuple[str | None, str]:
    head, plus, rest = target.partition("+")
    if plus and head.lower() in FORMATS and "://" not in head and "${" not in head:
        return head.lower(), rest
    return None, target


def message_id(event: sts.NotificationEvent) -> str:
    """The same for every delivery try of one notification, different between two."""
    return f"{event.job}@{event.fire_time_utc.isoformat()}/{event.kind}/{event.run_id}"


def group_id(events: Sequence[sts.NotificationEvent]) -> str:
    """The same for every delivery try of one group: ``group/<count>/<digest>``."""
    digest = hashlib.sha256("\n".join(message_id(event) for event in events).encode())
    return f"group/{len(events)}/{digest.hexdigest()[:32]}"


def group_json_payload(events: Sequence[sts.NotificationEvent], key: str) -> dict[str, Any]:
    """The ``json`` format of a group (``key``: its :func:`group_id`): schema
    ``sts.notification-group/v1``, each notification as :func:`json_payload` makes it,
    oldest first."""
    return {
        "schema": GROUP_SCHEMA,
        "id": key,
        "count": len(events),
        "notifications": [json_payload(event) for event in events],
    }


def group_slack_payload(events: Sequence[sts.NotificationEvent]) -> dict[str, Any]:
    """The ``slack`` format of a group: the first summary and how many more, an
    attachment for each of the first :data:`_CHAT_DETAILS`, one listing the rest."""
    first, count = events[0], len(events)
    attachments = [slack_payload(event)["attachments"][0] for event in events[:_CHAT_DETAILS]]
    rest = events[_CHAT_DETAILS:]
    if rest:
        attachments.append(
            {
                "fallback": f"{len(rest)} more",
                "color": "#808080",
                "title": f"{len(rest)} more",
                "text": "\n".join(_escape(event.summary) for event in rest),
            }
        )
    text = f"{first.summary} (and {count - 1} more)"
    return {"text": _escape(text), "attachments": attachments}


def json_payload(event: sts.NotificationEvent) -> dict[str, Any]:
    """The ``json`` format: schema ``sts.notification/v1`` (docs/plugins/webhook.md)."""
    record = event.record
    return {
        "schema": SCHEMA,
        "id": message_id(event),
        "kind": event.kind,
        "summary": event.summary,
        "job": event.job,
        "outcome": str(record.outcome),
        "error": record.error,
        "run_id": record.run_id,
        "attempt": record.attempt,
        "fire_time": event.fire_time.isoformat(),
        "fire_time_utc": event.fire_time_utc.isoformat(),
        "started_at": _instant(record.started_at),
        "finished_at": _instant(record.finished_at),
        "duration": record.duration,
        "missed_count": record.missed_count,
        "suppressed": event.suppressed,
        "scheduler": event.scheduler,
        "host": event.host,
        "output": dict(record.output),
    }


def slack_payload(event: sts.NotificationEvent) -> dict[str, Any]:
    """The ``slack`` format: ``text`` plus one legacy attachment, which Slack, Mattermost
    and Rocket.Chat incoming webhooks all render (Block Kit is Slack's alone)."""
    record = event.record
    fields = [
        {"title": "Job", "value": event.job, "short": True},
        {"title": "Outcome", "value": str(record.outcome), "short": True},
        {"title": "Fire time", "value": event.fire_time.isoformat(), "short": True},
        {"title": "Run", "value": f"{record.run_id}, attempt {record.attempt}", "short": True},
        {"title": "Scheduler", "value": f"{event.scheduler} on {event.host}", "short": True},
    ]
    if event.suppressed:
        fields.append(
            {"title": "Held back", "value": f"{event.suppressed} notification(s)", "short": True}
        )
    details = [record.error] if record.error else []
    for stream, tail in record.output.items():
        details.append(f"{stream}:\n```\n{tail[-_CHAT_TAIL:].rstrip()}\n```")
    attachment: dict[str, Any] = {
        "fallback": event.summary,
        "color": _COLOURS.get(event.kind, "#808080"),
        "title": event.summary,
        "fields": fields,
    }
    if details:
        attachment["text"] = "\n".join(details)
    return {"text": _escape(event.summary), "attachments": [attachment]}


def _escape(text: str) -> str:
    # Slack's three control characters in message text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _instant(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())
