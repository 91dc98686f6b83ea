"""What a configuration says about each job, and about the settings that cannot change
while a scheduler runs, as plain text: two readings compare key by key.

A job's fingerprint holds every value that shapes it: its own keys, the ``[notify]``
defaults it inherits, the section of its task type and of its notifier schemes (defaults
of their options), and the scheduler's zone when the job names none. Origins are left out:
a value that moved to another line, or from the file to etcd, has not changed.
"""

from __future__ import annotations

from collections.abc import Collection

from ...notify_policy import parse_channels, split_channel
from ..config.jobs import JOB_PREFIX, job_sections
from ..config.layers import Settings
from ..config.notify import with_notify_defaults
from ..config.schema import PREFIXES

#: job name -> label of a key (``schedule``, ``[shell] timeout``) -> value.
Fingerprints = dict[str, dict[str, str]]

#: Settings a running scheduler keeps until its next start: ``(section, key)``, with
#: ``None`` for every key of the section (``[state]``: the store's options).
FIXED_AT_START: tuple[tuple[str, str | None], ...] = (
    ("scheduler", "name"),
    ("scheduler", "state"),
    ("scheduler", "max_workers"),
    ("scheduler", "loop_block_threshold"),
    ("scheduler", "sources"),
    ("config", "sources"),
    ("scheduler", "executor"),
    ("state", None),
    ("logging", None),
    ("secrets", None),
)
#: Prefixed sections fixed at start, every key: the options of sources, sinks, providers.
FIXED_PREFIXES = ("source", "logging", "secrets")


def job_fingerprints(settings: Settings) -> Fingerprints:
    """Every job's fingerprint, by job name."""
    zone = settings.value("scheduler", "timezone") or "local"
    fingerprints: Fingerprints = {}
    for section in job_sections(settings):
        keys = with_notify_defaults(settings, settings.sections[section])
        values = {key: setting.value for key, setting in keys.items()}
        for inherited in _inherited_sections(values):
            for key, setting in settings.sections.get(inherited, {}).items():
                values[f"[{inherited}] {key}"] = setting.value
        if "timezone" not in values:
            values["[scheduler] timezone"] = zone
        fingerprints[section[len(JOB_PREFIX) :].strip()] = values
    return fingerprints


def _inherited_sections(values: dict[str, str]) -> list[str]:
    """The sections a job takes defaults from: its task type's and its notifiers'."""
    sections = []
    task_type = values.get("type", "").strip()
    if task_type:
        sections.append(task_type)
    try:
        channels = parse_channels(values["notify"]) if "notify" in values else ()
    except ValueError:
        channels = ()  # reported when the job is built
    for channel in channels:
        scheme = split_channel(channel)[0]
        if scheme not in sections:
            sections.append(scheme)
    return sections


def fixed_settings(settings: Settings, executors: Collection[str] = ()) -> dict[str, str]:
    """The values of the settings fixed at start, by label (``[scheduler] state``).

    :param executors: the executors' names: their sections (``[rabbitmq]``) hold options
        the scheduler opens its executors with, at start.
    """
    values: dict[str, str] = {}
    for section, keys in settings.sections.items():
        kind, colon, _ = section.partition(":")
        every_key = (colon and kind in FIXED_PREFIXES and kind in PREFIXES) or (
            not colon and ((section, None) in FIXED_AT_START or section in executors)
        )
        for key, setting in keys.items():
            if every_key or (section, key) in FIXED_AT_START:
                values[f"[{section}] {key}"] = setting.value
    return values


def changed_keys(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """The labels whose value differs, was added or was removed, sorted."""
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
