"""The ``sts`` command: ``main`` parses the command line and runs one subcommand.

Exit codes: 0 ok, 1 a job failed (where it applies) or no scheduler answers, 2 usage or
configuration error, with the error sentence on stderr and no traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .errors import JOB_FAILED, OK, USAGE_ERROR, CommandError

__all__ = ["JOB_FAILED", "OK", "USAGE_ERROR", "CommandError", "main"]

#: Exit code of a command stopped with Ctrl-C, as shells report it.
INTERRUPTED = 130


def _plugin_commands() -> list[Any]:
    from ...plugins import default_plugins
    from .parser import BUILTIN_COMMANDS, PluginCommand

    registry = default_plugins().commands
    commands = []
    for registration in registry.items():
        command = registration.value
        if command.name in BUILTIN_COMMANDS:
            print(
                f"sts: plugin {registration.plugin!r} registered the command "
                f"{command.name!r}, which is built in; ignored",
                file=sys.stderr,
            )
            continue
        commands.append(
            PluginCommand(
                command.name,
                command.configure,
                command.handler,
                command.help,
                registration.plugin,
            )
        )
    return commands


def _resolve(handler: str | Callable[[Any], int]) -> Callable[[Any], int]:
    if callable(handler):
        return handler
    module_name, _, function = handler.partition(":")
    resolved: Callable[[Any], int] = getattr(importlib.import_module(module_name), function)
    return resolved


def _known_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix: reported as a sentence, exit code 2.

    Evaluated only when an exception is raised, so the modules load only then.
    """
    from ...plugins import PluginError
    from ..sqlite_store import StateStoreError

    known: list[type[BaseException]] = [PluginError, StateStoreError]
    try:
        from ..config import ConfigError
    except ImportError:  # pragma: no cover - the config package is optional while built
        pass
    else:
        known.append(ConfigError)
    return tuple(known)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sts`` with ``argv`` (``sys.argv[1:]`` by default); return the exit code."""
    from .parser import build_parser

    parser = build_parser(_plugin_commands())
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, --version, or a usage error
        return exit_request.code if isinstance(exit_request.code, int) else USAGE_ERROR
    if args.command is None:
        parser.print_help(sys.stderr)
        return USAGE_ERROR
    if args.log_level is not None:
        # The environment layer is below command-line flags; setting it here lets the flag
        # reach every logger the command configures, including a module's own scheduler.
        os.environ["LOG_LEVEL"] = args.log_level
    prefix = f"sts {args.command}"
    try:
        return int(_resolve(args.handler)(args))
    except CommandError as error:
        print(f"{prefix}: error: {error.message}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return INTERRUPTED
    except _known_errors() as error:
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
