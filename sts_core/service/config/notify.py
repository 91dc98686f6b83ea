"""Notifications in a config file, and the sections named after what plugins register.

- ``[notify]``: ``notify``, ``notify_on`` and ``notify_interval`` for every job that does
  not set its own.
- ``[<scheme>]`` (``[email]``, ``[webhook]``): options of that notifier scheme's factory,
  converted to the types it annotates. The same section gives defaults to the task type of
  that name (the ``email`` task's SMTP settings), so a key may belong to either.
- ``<scheme>.<option>`` in a job (``email.subject = ...``): that job's own value of an
  option of its channels, over the section's.
"""

from __future__ import annotations

from typing import Any

from ...notify_policy import parse_channels, split_channel
from ...plugins import Plugins
from ..notifications import build_notifier
from .errors import Problem
from .layers import Setting, Settings
from .options import Signature, convert_options, signature_of

NOTIFY_SECTION = "notify"
NOTIFY_KEYS = ("notify", "notify_on", "notify_interval")


def with_notify_defaults(settings: Settings, keys: dict[str, Setting]) -> dict[str, Setting]:
    """A job's keys, with the ``[notify]`` ones it does not set itself."""
    defaults = settings.sections.get(NOTIFY_SECTION, {})
    return {**{key: defaults[key] for key in NOTIFY_KEYS if key in defaults}, **keys}


def is_channel_option(key: str) -> bool:
    """Whether a job's key is ``<scheme>.<option>``."""
    return "." in key


def _optional(signature: Signature) -> Signature:
    return Signature(
        {name: (annotation, False) for name, (annotation, _) in signature.options.items()},
        signature.takes_any,
        signature.renamed,
    )


def plan_notifications(
    section: str, keys: dict[str, Setting], settings: Settings, plugins: Plugins
) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """The job's ``notify_options`` (scheme -> converted options), and every problem of its
    channels: a scheme no plugin registers, an unknown or invalid option, a target the
    scheme's factory refuses. (The words of ``notify`` are the policy check's.)"""
    setting = keys.get("notify")
    own = {key: value for key, value in keys.items() if is_channel_option(key)}
    try:
        channels = parse_channels(setting.value) if setting is not None else ()
    except ValueError:
        return {}, []  # reported with the other policies
    used = {split_channel(channel)[0]: channel for channel in channels}
    problems: list[Problem] = []
    for key, value in own.items():
        if key.partition(".")[0].lower() not in used:
            problems.append(
                Problem(
                    f"an option of the notifier scheme {key.partition('.')[0]!r}, but no "
                    f"channel of the job's notify uses it",
                    origin=value.origin,
                    section=section,
                    key=key,
                )
            )
    registry = plugins.notifiers
    options: dict[str, dict[str, Any]] = {}
    for scheme in used:
        assert setting is not None
        if scheme not in registry:
            problems.append(
                Problem(
                    registry.missing_message(scheme),
                    origin=setting.origin,
                    section=section,
                    key="notify",
                )
            )
            continue
        factory = registry.get(scheme)
        signature = signature_of(factory, positional=1)
        what = f"the notifier scheme {scheme!r}"
        # The scheme's section may hold keys of the task type of the same name too.
        shared = {
            key: value
            for key, value in settings.sections.get(scheme, {}).items()
            if key in signature.options
        }
        arguments, found = convert_options(
            _optional(signature),
            scheme,
            shared,
            what=what,
            section_origin=settings.section_origins.get(scheme),
        )
        problems += found
        mine = {
            key.partition(".")[2]: value
            for key, value in own.items()
            if key.partition(".")[0].lower() == scheme
        }
        overrides, found = convert_options(
            _optional(signature), section, mine, what=what, section_origin=None
        )
        problems += [
            Problem(p.message, p.origin, p.section, f"{scheme}.{p.key}" if p.key else None)
            for p in found
        ]
        arguments.update(overrides)
        missing = [
            name
            for name, (_, required) in signature.options.items()
            if required and signature.parameter(name) not in arguments
        ]
        for name in missing:
            problems.append(
                Problem(
                    f"missing option: {what} needs {name}, in [{scheme}] or as {scheme}.{name}",
                    origin=setting.origin,
                    section=section,
                    key="notify",
                )
            )
        if found or missing:
            continue
        options[scheme] = arguments
        for channel in channels:
            name, target = split_channel(channel)
            if name != scheme:
                continue
            try:
                build_notifier(registry.get, scheme, target, arguments)
            except Exception as error:  # the plugin's own check of its target and options
                problems.append(
                    Problem(str(error), origin=setting.origin, section=section, key="notify")
                )
    return options, problems


def check_plugin_sections(settings: Settings, plugins: Plugins) -> list[Problem]:
    """Every key of a section named after a notifier scheme, a task type or an executor
    must be an option of one of them."""
    problems: list[Problem] = []
    for section, keys in settings.sections.items():
        if ":" in section:
            continue
        takers = []
        if section in plugins.notifiers:
            takers.append(signature_of(plugins.notifiers.get(section), positional=1))
        if section in plugins.task_types:
            takers.append(signature_of(plugins.task_types.get(section), skip=("name",)))
        if section in plugins.executors:
            takers.append(signature_of(plugins.executors.get(section), positional=1))
        if not takers or any(signature.takes_any for signature in takers):
            continue
        accepted = sorted({name for signature in takers for name in signature.options})
        for key, setting in keys.items():
            if key not in accepted:
                problems.append(
                    Problem(
                        f"unknown option for [{section}]: expected one of {', '.join(accepted)}",
                        origin=setting.origin,
                        section=section,
                        key=key,
                    )
                )
    return problems
