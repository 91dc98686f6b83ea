"""Which runs of a job notify, through which channels, and how often: the ``notify``,
``notify_on``, ``notify_interval`` and ``notify_options`` job policies.

Only the words are checked here (a channel is ``scheme:target``, the kinds exist, the
interval is a duration); whether a scheme is installed is the scheduler's question, asked
when the job is scheduled (``notifications.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .durations import parse_duration

#: What a notification can be about.
FAILURE, RECOVERY, MISSED = "failure", "recovery", "missed"
KINDS = (FAILURE, RECOVERY, MISSED)
DEFAULT_KINDS = frozenset({FAILURE, RECOVERY})
#: Like Alertmanager's ``repeat_interval``: repeats of a job's failure on one channel wait
#: this long, and are counted meanwhile.
DEFAULT_INTERVAL = 3600.0

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")

#: ``notify_options``, frozen: ``((scheme, ((option, value), ...)), ...)``.
ChannelOptions = tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]


def split_channel(channel: str) -> tuple[str, str]:
    """``"email:ops@example.org"`` -> ``("email", "ops@example.org")``.

    :raises ValueError: when the text is not ``scheme:target``.
    """
    scheme, colon, target = channel.strip().partition(":")
    if not colon or not _SCHEME.fullmatch(scheme) or not target.strip():
        raise ValueError(
            f"invalid notify channel {channel!r}: expected <scheme>:<target>, such as "
            f"'email:ops@example.org' or 'webhook:https://hooks.example.org/sts'"
        )
    return scheme.lower(), target.strip()


def _items(value: str | Iterable[str]) -> list[str]:
    # Commas or new lines separate items, as everywhere in config files; a list from
    # Python is taken as is (a URL may hold a comma).
    if isinstance(value, str):
        return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"invalid notify channel {item!r}: expected text scheme:target")
    return [item.strip() for item in items if item.strip()]


def parse_channels(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The channels of ``notify``, each ``scheme:target`` with the scheme in lower case."""
    if value is None:
        return ()
    channels: list[str] = []
    for item in _items(value):
        if item.lower() == "none":  # so that a job can turn off the [notify] default
            continue
        scheme, target = split_channel(item)
        channel = f"{scheme}:{target}"
        if channel not in channels:
            channels.append(channel)
    return tuple(channels)


def parse_kinds(value: str | Iterable[str] | None) -> frozenset[str]:
    """The kinds of ``notify_on``: ``failure``, ``recovery``, ``missed``."""
    if value is None:
        return DEFAULT_KINDS
    kinds = {item.lower() for item in _items(value)}
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise ValueError(f"invalid notify_on {unknown[0]!r}: expected any of {', '.join(KINDS)}")
    return frozenset(kinds)


def _frozen_options(value: Mapping[str, Mapping[str, Any]] | None) -> ChannelOptions:
    if value is None:
        return ()
    if not isinstance(value, Mapping) or not all(
        isinstance(options, Mapping) for options in value.values()
    ):
        raise ValueError(
            f"invalid notify_options {value!r}: expected a mapping of scheme to options, "
            f"such as {{'email': {{'host': 'smtp.example.org'}}}} (in a config file: the "
            f"section named after the scheme, [email], or keys like email.host in the job)"
        )
    return tuple(
        (str(scheme).lower(), tuple(sorted((str(k), v) for k, v in options.items())))
        for scheme, options in sorted(value.items())
    )


@dataclass(frozen=True, slots=True)
class NotifyPolicy:
    """A job's notification policy. Build it with :meth:`build`, which validates."""

    channels: tuple[str, ...] = ()
    """``scheme:target`` texts; none: the job does not notify."""
    on: frozenset[str] = DEFAULT_KINDS
    interval: float = DEFAULT_INTERVAL
    options: ChannelOptions = ()
    """Per scheme, options for the scheme's factory (over the config section's)."""

    @classmethod
    def build(
        cls,
        notify: str | Iterable[str] | None = None,
        notify_on: str | Iterable[str] | None = None,
        notify_interval: Any = None,
        notify_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> NotifyPolicy:
        """:raises ValueError: naming the policy, the value and what would be valid."""
        interval = (
            DEFAULT_INTERVAL
            if notify_interval is None
            else parse_duration(notify_interval, what="notify_interval")
        )
        return cls(
            parse_channels(notify),
            parse_kinds(notify_on),
            interval,
            _frozen_options(notify_options),
        )

    def options_for(self, scheme: str) -> dict[str, Any]:
        for name, options in self.options:
            if name == scheme:
                return dict(options)
        return {}


NO_NOTIFY = NotifyPolicy()
