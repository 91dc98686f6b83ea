"""``sts tui``: its arguments and its handler. Textual is imported by the handler only,
so that ``sts --help`` does not pay for it."""

from __future__ import annotations

import argparse
from pathlib import Path

import sts


def configure(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--socket",
        metavar="PATH",
        help="the control socket of the scheduler to follow",
    )
    target.add_argument(
        "--name",
        metavar="NAME",
        default="sts",
        help="the name of the scheduler to follow, for its default socket (default: sts)",
    )


def socket_path(args: argparse.Namespace) -> Path:
    if args.socket:
        return Path(args.socket).expanduser()
    return sts.default_control_socket(args.name)


def handler(args: argparse.Namespace) -> int:
    from .app import SchedulerApp

    app = SchedulerApp(socket_path(args))
    code = app.run()
    return code or 0
