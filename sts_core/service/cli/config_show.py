"""``sts config``: the effective configuration, each value with where it came from."""

from __future__ import annotations

import argparse

from .context import CommandContext
from .errors import OK, CommandError


def show_config(args: argparse.Namespace) -> int:
    """Print what is in effect, then fail (exit 2) when the file is invalid: a user
    reading it to debug sees both what STS read and what is wrong with it."""
    context = CommandContext(args)
    config = context.read_config()
    print(config.render(), end="")
    _, problems = config.check(secrets=False)
    if problems:
        from ..config import ConfigError

        raise CommandError(f"{ConfigError(problems)} (`sts check` says more)")
    return OK
