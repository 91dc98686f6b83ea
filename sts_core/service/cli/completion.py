"""Shell completion through argcomplete: imported only while the shell asks for
completions (``_ARGCOMPLETE`` is set), so ``sts --help`` does not pay for it."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn


def job_names(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """The jobs of the config file the command line points at, for ``JOB`` arguments."""
    from ..config import ConfigError
    from .context import CommandContext

    try:
        names = CommandContext(parsed_args).config.job_names
    except (ConfigError, OSError):
        return []  # a completion never prints an error
    return [name for name in names if name.startswith(prefix)]


def complete(parser: argparse.ArgumentParser) -> NoReturn:
    import argcomplete

    for action in _job_actions(parser):
        action.completer = job_names  # type: ignore[attr-defined]
    argcomplete.autocomplete(parser)
    raise SystemExit(0)  # autocomplete exits itself; this is for its "not completing" case


def _job_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += [a for a in sub._actions if a.dest in ("job", "job_option")]
    return found
