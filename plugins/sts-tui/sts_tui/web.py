"""``sts tui --web``: the same UI in a browser, served by textual-serve.

Each browser tab gets its own ``sts tui --socket PATH`` process, driven through
textual-serve's websocket. Everything the page loads comes from this server: the page
template is ours (textual-serve's own asks a font from a CDN), the script, the styles
and the fonts are the ones textual-serve ships.

The UI can run, pause and remove jobs, so the server binds to loopback unless told
otherwise, refuses another address without a token, and checks the token (a query
parameter once, then a cookie) and the websocket's ``Origin`` on every request: a page
from another site open in the same browser cannot drive it.
"""

from __future__ import annotations

import hmac
import ipaddress
import shlex
import sys
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

#: The cookie that carries the token after the first page.
TOKEN_COOKIE = "sts_tui_token"
TEMPLATES = Path(__file__).parent / "web_templates"


class UnsafeBind(ValueError):
    """A non-loopback address without a token."""


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost`` and the rest of 127.0.0.0/8."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, token: str | None) -> None:
    """:raises UnsafeBind: for a non-loopback ``host`` without a ``token``."""
    if token is None and not is_loopback(host):
        raise UnsafeBind(
            f"sts tui --web: refusing to serve on {host}: anyone who reaches this address "
            f"could run, pause and remove jobs. Serve on 127.0.0.1 (the default) and reach "
            f"it through an SSH tunnel, or give --token SECRET (the page is then opened as "
            f"http://HOST:PORT/?token=SECRET)"
        )


def ui_command(socket_path: Path) -> str:
    """The command each browser tab runs: this UI, on the scheduler's socket."""
    return shlex.join([sys.executable, "-m", "sts", "tui", "--socket", str(socket_path)])


class WebServer(Server):
    """textual-serve's server with local assets only, a token and an origin check."""

    def __init__(
        self, socket_path: Path, *, host: str, port: int, token: str | None = None
    ) -> None:
        check_bind(host, token)
        super().__init__(
            ui_command(socket_path),
            host=host,
            port=port,
            title="STS",
            templates_path=TEMPLATES,
        )
        self.token = token

    async def _make_app(self) -> web.Application:
        app: web.Application = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/ws" and not _same_origin(request):
            raise web.HTTPForbidden(text="this page's websocket takes its own origin only")
        if self.token is None:
            response: web.StreamResponse = await handler(request)
            return response
        given = request.query.get("token") or request.cookies.get(TOKEN_COOKIE, "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise web.HTTPUnauthorized(
                text="open this page with ?token=... (the token sts tui --web was given)"
            )
        response = await handler(request)
        if "token" in request.query:
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        # The page's own address, not the bound one (0.0.0.0 is no address to connect to).
        base = f"{request.scheme}://{request.host}"
        socket_scheme = "wss" if request.scheme == "https" else "ws"
        return {
            "font_size": _whole(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{socket_scheme}://{request.host}/ws",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }

    async def on_startup(self, app: web.Application) -> None:
        where = f"http://{self.host}:{self.port}/"
        print(f"sts tui --web: serving the UI on {where}", flush=True)
        if self.token is not None:
            print(f"open it as {where}?token=<the token>", flush=True)
        print("Ctrl+C stops it", flush=True)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser: the token (when set) still applies
        return True
    return origin.split("://", 1)[-1] == request.host


def _whole(text: str, default: int) -> int:
    try:
        return max(6, min(40, int(text)))
    except ValueError:
        return default


def serve(socket_path: Path, *, host: str, port: int, token: str | None) -> int:
    """Serve until interrupted; the exit code."""
    try:
        server = WebServer(socket_path, host=host, port=port, token=token)
    except UnsafeBind as error:
        print(error, file=sys.stderr)
        return 2
    server.serve()
    return 0
