"""The ``sts`` argument parser: built-in subcommands and those plugins register.

Only ``argparse`` is imported here. Each built-in handler is named as ``module:function``
and imported when its command runs, so ``sts --help`` does not pay for asyncio, sqlite3
or the configuration loader.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .errors import USAGE_ERROR

if TYPE_CHECKING:
    from ...plugins import Registration
    from ..registries import Command

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

DESCRIPTION = """\
STS, the Simple Task Scheduler: run jobs declared in config.ini, see their plan and
history, and act on a running scheduler.

exit codes: 0 ok, 1 a job failed (trigger --wait) or no scheduler is running,
2 usage or configuration error.
"""

EPILOG = """\
start here:  sts demo          (a scheduler with three demo jobs; Ctrl-C stops it)
then:        sts run sts.ini   (your jobs; see docs/cli.md for the file)
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def _duration(text: str) -> float:
    from ...durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _log_level(text: str) -> str:
    name = text.strip().upper()
    if name not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a log level: expected one of {', '.join(LOG_LEVELS)}"
        )
    return name


def _add_global_options(parser: argparse.ArgumentParser, *, in_subcommand: bool) -> None:
    # In subcommands the defaults are suppressed, so `sts --name x jobs` is not undone by
    # the subcommand's own (absent) --name.
    default: Any = argparse.SUPPRESS if in_subcommand else None
    group = parser.add_argument_group("global options")
    # A plugin's command may define one of these itself; its own then stays in charge.
    taken = parser._option_string_actions
    if "--config" not in taken:
        group.add_argument(
            "--config",
            metavar="FILE",
            default=default,
            help="the config file (default: $STS_CONFIG, ./sts.ini, then the user config dir)",
        )
    if "--name" not in taken:
        group.add_argument(
            "--name",
            metavar="NAME",
            default=default,
            help="the scheduler's name: picks its state file and control socket",
        )
    if "--log-level" not in taken:
        group.add_argument(
            "--log-level",
            metavar="LEVEL",
            type=_log_level,
            default=default,
            help=f"one of {', '.join(LOG_LEVELS)} (overrides LOG_LEVEL and the config)",
        )


def _job_argument(parser: argparse.ArgumentParser, *, optional: bool, help: str) -> None:
    if optional:
        parser.add_argument("job", nargs="?", metavar="JOB", help=help)
    else:
        parser.add_argument("job", metavar="JOB", help=help)


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _configure_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        nargs="?",
        metavar="CONFIG | module:object",
        help="a config file, or a TaskScheduler object built in Python (app.jobs:scheduler)",
    )
    parser.add_argument(
        "--tui",
        action="store_true",
        help="watch it in the terminal UI, in the same process (plugin sts-tui)",
    )


def _configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        nargs="?",
        metavar="CONFIG",
        help="the config file (default: found as `sts run` finds it)",
    )


def _configure_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration",
        metavar="SECONDS",
        type=_duration,
        help="stop by itself after this long (10, 30s, 2m); by default run until Ctrl-C",
    )


def _configure_jobs(parser: argparse.ArgumentParser) -> None:
    _json_option(parser)


def _configure_plan(parser: argparse.ArgumentParser) -> None:
    _job_argument(parser, optional=True, help="the job (default: every job)")
    parser.add_argument(
        "--count", metavar="N", type=_positive_int, default=10, help="fires per job (10)"
    )
    parser.add_argument(
        "--since",
        metavar="TIME",
        help="list fires after this ISO 8601 time (2026-03-28T00:00, read in the job's "
        "time zone unless it has an offset); default: now",
    )
    _json_option(parser)


def _configure_history(parser: argparse.ArgumentParser) -> None:
    _job_argument(parser, optional=True, help="the job (default: every job)")
    parser.add_argument(
        "--job", dest="job_option", metavar="JOB", help="the job, as an option (same as JOB)"
    )
    parser.add_argument(
        "--since",
        metavar="TIME",
        help="only runs that fired at or after this ISO 8601 time (2026-03-28T00:00, read "
        "in the job's time zone unless it has an offset)",
    )
    parser.add_argument(
        "--failed",
        action="store_true",
        help="only runs that failed, timed out, were " "interrupted or missed",
    )
    parser.add_argument(
        "--limit", metavar="N", type=_positive_int, default=20, help="at most N runs (20)"
    )
    _json_option(parser)


def _configure_trigger(parser: argparse.ArgumentParser) -> None:
    _job_argument(parser, optional=False, help="the job to run now")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="wait for the run to end; exit 1 when it did not succeed",
    )


def _configure_show(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_id", metavar="RUN_ID", help="the run's id, as `sts history` shows it (or its start)"
    )
    _json_option(parser)


def _configure_job_only(parser: argparse.ArgumentParser) -> None:
    _job_argument(parser, optional=False, help="the job")


def _configure_nothing(parser: argparse.ArgumentParser) -> None:
    pass


#: name -> (help, configure, "module:function" of the handler)
BUILTIN_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], str]] = {
    "run": ("run the scheduler", _configure_run, "sts_core.service.cli.run_command:run"),
    "demo": (
        "run a demo scheduler: three jobs every few seconds",
        _configure_demo,
        "sts_core.service.cli.demo:run_demo",
    ),
    "jobs": (
        "jobs with their schedule, next fire and last outcome",
        _configure_jobs,
        "sts_core.service.cli.inspect:show_jobs",
    ),
    "plan": (
        "upcoming fire times, in the job's time zone and UTC",
        _configure_plan,
        "sts_core.service.cli.inspect:show_plan",
    ),
    "history": (
        "recent runs with outcome, duration and error",
        _configure_history,
        "sts_core.service.cli.inspect:show_history",
    ),
    "show": (
        "one run in full: error, traceback, output, attempts, timings",
        _configure_show,
        "sts_core.service.cli.run_detail:show_run",
    ),
    "trigger": (
        "run a job now, on the running scheduler",
        _configure_trigger,
        "sts_core.service.cli.act:trigger",
    ),
    "pause": (
        "stop firing a job, on the running scheduler",
        _configure_job_only,
        "sts_core.service.cli.act:pause",
    ),
    "resume": (
        "fire a paused job again, on the running scheduler",
        _configure_job_only,
        "sts_core.service.cli.act:resume",
    ),
    "remove": (
        "remove a job from the running scheduler (until it restarts, for a config's job)",
        _configure_job_only,
        "sts_core.service.cli.act:remove",
    ),
    "reload": (
        "read the configuration again and apply the difference, on the running scheduler",
        _configure_nothing,
        "sts_core.service.cli.reload_command:reload",
    ),
    "plugins": (
        "installed plugins and what each registers",
        _configure_nothing,
        "sts_core.service.cli.plugins_info:show_plugins",
    ),
    "check": (
        "check a config file: every problem at once, callables imported, secrets present",
        _configure_check,
        "sts_core.service.cli.check:check",
    ),
    "config": (
        "the effective configuration, with where each value came from",
        _configure_nothing,
        "sts_core.service.cli.config_show:show_config",
    ),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own exits with 2 too; say where
        self.print_usage()
        self.exit(USAGE_ERROR, f"{self.prog}: error: {_with_suggestion(message, self)}\n")

    def every_option(self) -> list[str]:
        """The option strings of this parser and of its subcommands."""
        options = list(self._option_string_actions)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    options += sub._option_string_actions
        return options


def _with_suggestion(message: str, parser: _Parser) -> str:
    """argparse's "invalid choice: 'hisotry' (choose from ...)" and "unrecognized
    arguments: --limt", with "did you mean"."""
    import re

    from ...suggest import did_you_mean

    unknown = re.match(r"unrecognized arguments: (\S+)", message)
    if unknown is not None and unknown.group(1).startswith("-"):
        option = unknown.group(1).partition("=")[0]
        return message + did_you_mean(option, set(parser.every_option()))
    found = re.match(r"(.*invalid choice: '([^']*)')( \(choose from (.*)\))?$", message, re.S)
    if found is None or found.group(4) is None:
        return message
    choices = re.findall(r"'([^']*)'", found.group(4))
    return f"{found.group(1)}{did_you_mean(found.group(2), choices)}{found.group(3)}"


def build_parser(
    plugin_commands: Iterable[Registration[Command]] = (),
) -> argparse.ArgumentParser:
    """The parser of ``sts``; ``args.handler`` is the chosen command's handler (a
    ``module:function`` text for built-ins, a function for plugins)."""
    parser = _Parser(
        prog="sts",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from ... import __version__

    parser.add_argument("--version", action="version", version=f"sts {__version__}")
    _add_global_options(parser, in_subcommand=False)
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_text, configure, handler) in BUILTIN_COMMANDS.items():
        sub = subcommands.add_parser(name, help=help_text, description=help_text)
        configure(sub)
        _add_global_options(sub, in_subcommand=True)
        sub.set_defaults(handler=handler)
    for registration in plugin_commands:
        command = registration.value
        sub = subcommands.add_parser(
            command.name,
            help=f"{command.help} (plugin {registration.plugin})".strip(),
            description=command.help or None,
        )
        command.configure(sub)
        _add_global_options(sub, in_subcommand=True)
        sub.set_defaults(handler=command.handler)
    return parser
