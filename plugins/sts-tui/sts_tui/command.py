"""``sts tui``: its arguments and its handler. Textual is imported by the handler only,
so that ``sts --help`` does not pay for it."""

from __future__ import annotations

import argparse
from pathlib import Path

import sts


def configure(parser: argparse.ArgumentParser) -> None:
    web = parser.add_argument_group("in a browser")
    web.add_argument(
        "--web",
        action="store_true",
        help="serve the UI to a browser (textual-serve) instead of this terminal",
    )
    web.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to serve on (default: 127.0.0.1; another one needs --token)",
    )
    web.add_argument("--port", type=int, default=8000, help="the port (default: 8000)")
    web.add_argument(
        "--token",
        default=None,
        help="a secret the page must be opened with (?token=...); required off loopback",
    )
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
    if args.web:
        from .web import serve

        return serve(socket_path(args), host=args.host, port=args.port, token=args.token)
    from .app import SchedulerApp

    app = SchedulerApp(socket_path(args))
    code = app.run()
    return code or 0
