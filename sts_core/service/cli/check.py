"""``sts check [CONFIG]``: every problem of a config file, all together, without running
it; exit 2 with the list, or 0 with a one-line summary."""

from __future__ import annotations

import argparse

from .context import CommandContext
from .errors import OK, CommandError


def check(args: argparse.Namespace) -> int:
    if args.target is not None and args.config is not None:
        raise CommandError(f"two config files given ({args.target} and --config {args.config})")
    context = CommandContext(args, config_path=args.target)
    config = context.read_config()
    specs, problems = config.check()
    where = str(config.path) if config.path else "no config file (defaults only)"
    if problems:
        from ..config import ConfigError

        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        listed = "\n".join(f"  {problem}" for problem in ConfigError(problems).problems)
        raise CommandError(f"{count} in {where}:\n{listed}")
    secrets = sum(
        "${secret:" in setting.value
        for keys in config.settings.sections.values()
        for setting in keys.values()
    )
    names = ", ".join(spec.name for spec in specs)
    print(
        f"{where}: OK: {len(specs)} job{'' if len(specs) == 1 else 's'}"
        + (f" ({names})" if names else "")
        + (f", {secrets} secret reference{'' if secrets == 1 else 's'} found" if secrets else "")
        + f", scheduler {config.scheduler_name!r}"
    )
    return OK
