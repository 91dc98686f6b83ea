"""``sts config``: the effective configuration, each value with where it came from."""

from __future__ import annotations

import argparse

from .context import CommandContext
from .errors import OK


def show_config(args: argparse.Namespace) -> int:
    context = CommandContext(args)
    print(context.config.render(), end="")
    return OK
