"""``sts tui --web``: the UI in a real headless Chromium (Debian's ``chromium``, driven by
Playwright through its ``executable_path``: no browser is downloaded), and the server's
refusals: another address without a token, a request without the token, a websocket
from another origin."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sts.testing import require

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class WebUI:
    """``python -m sts tui --web`` on a free loopback port, for one scheduler."""

    def __init__(self, socket_path: Path, *extra: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "sts", "tui", "--web", "--port", str(self.port)),
                *("--socket", str(socket_path), *extra),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"sts tui --web did not start: {self.output()}") from None
                time.sleep(0.1)

    def output(self) -> str:
        return self.process.stdout.read() if self.process.stdout else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def web_ui() -> Iterator[Callable[..., WebUI]]:
    started: list[WebUI] = []

    def start(socket_path: Path, *extra: str) -> WebUI:
        started.append(WebUI(socket_path, *extra))
        return started[-1]

    yield start
    for ui in started:
        ui.stop()


def _ran_by_hand(socket_path: Path, job: str) -> bool:
    from sts import control_request

    runs = control_request(socket_path, "history", job=job, limit=50)["runs"]
    return any(run["manual"] for run in runs)


def _status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as answer:
            status: int = answer.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_browser_shows_the_jobs_and_a_key_runs_one(
    scheduler_factory: Callable[..., Any],
    web_ui: Callable[..., WebUI],
    tmp_path: Path,
) -> None:
    require(CHROMIUM is not None, "needs Debian's chromium (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        require(False, "needs playwright (pip install playwright; it drives the system's Chromium)")
    process = scheduler_factory()
    ui = web_ui(process.path)
    screenshot = tmp_path / "sts-tui-web.png"

    async def browse() -> tuple[str, list[str]]:
        frames: list[bytes] = []
        elsewhere: list[str] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox"]
            )
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 720})
                page.on(
                    "request",
                    lambda request: (
                        None if request.url.startswith(ui.url) else elsewhere.append(request.url)
                    ),
                )
                page.on(
                    "websocket",
                    lambda socket: socket.on(
                        "framereceived",
                        lambda data: frames.append(data if isinstance(data, bytes) else b""),
                    ),
                )
                await page.goto(ui.url)

                def screen() -> str:
                    return b"".join(frames).decode("utf-8", "replace")

                deadline = time.monotonic() + 30
                while not all(name in screen() for name in ("tick", "boom", "hourly")):
                    assert time.monotonic() < deadline, "the jobs never reached the page"
                    await asyncio.sleep(0.2)
                # The cursor is on the first job by name ("boom"); r runs it now.
                await page.click("#terminal")
                await page.keyboard.press("r")
                deadline = time.monotonic() + 30
                while not _ran_by_hand(process.path, "boom"):
                    assert time.monotonic() < deadline, "the key press ran nothing"
                    await asyncio.sleep(0.2)
                await asyncio.sleep(0.5)  # the page shows the run
                await page.screenshot(path=str(screenshot))
                return screen(), elsewhere
            finally:
                await browser.close()

    _, elsewhere = asyncio.run(browse())
    assert elsewhere == []  # nothing loaded from anywhere but this server
    assert _ran_by_hand(process.path, "boom")
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("STS_TUI_SCREENSHOTS"):  # to refresh docs/images/sts-tui-web.png
        shutil.copy(screenshot, os.environ["STS_TUI_SCREENSHOTS"])


def test_another_address_without_a_token_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sts", "tui", "--web", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0" in done.stderr
    assert "--token" in done.stderr


def test_with_a_token_every_request_needs_it_and_the_websocket_its_own_origin(
    scheduler_factory: Callable[..., Any], web_ui: Callable[..., WebUI]
) -> None:
    process = scheduler_factory(start=False)
    ui = web_ui(process.path, "--token", "s3cret")
    assert _status(ui.url) == 401
    assert _status(f"{ui.url}?token=wrong") == 401
    assert _status(f"{ui.url}static/js/textual.js") == 401
    assert _status(f"{ui.url}?token=s3cret") == 200
    assert _status(f"{ui.url}static/js/textual.js?token=s3cret") == 200
    # A page from another site in the same browser cannot open the UI's websocket.
    evil = {"Origin": "http://evil.example", "Cookie": "sts_tui_token=s3cret"}
    assert _status(f"{ui.url}ws", evil) == 403
