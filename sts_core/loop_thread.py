"""Where a scheduler's event loop runs, and how other threads reach it.

``run()`` runs the loop in the calling thread (``blocking``) or in a background thread of
its own; :meth:`LoopThread.call` runs a function on that loop from any thread and returns
its result, which is what makes the scheduler's public API thread-safe.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread", "serve_until_stopped"]

T = TypeVar("T")

Serve = Callable[[bool], Coroutine[Any, Any, None]]


class LoopThread:
    """The loop a scheduler runs on while started, and the thread it runs in."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ident: int | None = None
        self._thread: threading.Thread | None = None
        self.started = threading.Event()
        self.stopped = threading.Event()

    def enter(self) -> None:
        """The scheduler starts on the running loop."""
        self.loop = asyncio.get_running_loop()
        self._ident = threading.get_ident()
        self.stopped.clear()

    def leave(self) -> None:
        """The scheduler stopped (or never got started)."""
        self.loop = self._ident = None

    def on_loop(self) -> bool:
        return threading.get_ident() == self._ident

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on the loop, from any thread (or here, without a loop)."""
        loop = self.loop
        if loop is None or self.on_loop():
            return function(*args)
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                result.set_result(function(*args))
            except BaseException as error:
                result.set_exception(error)

        try:
            loop.call_soon_threadsafe(call)
        except RuntimeError:  # the loop closed meanwhile
            return function(*args)
        return result.result()

    def join_from_elsewhere(self) -> None:
        """Wait for the background thread to end, unless this is that thread."""
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def run(
        self,
        serve: Serve,
        *,
        blocking: bool,
        name: str,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None,
    ) -> None:
        """Run ``serve`` on a new loop: here until it returns, or in a background thread
        once it has started (``started`` is set); a start that fails there raises here."""
        if blocking:
            main = threading.current_thread() is threading.main_thread()
            self._run_forever(serve, loop_factory, install_signals=main)
            return
        failed: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run_forever,
            args=(serve, loop_factory),
            kwargs={"install_signals": False, "failed": failed},
            name=name,
            daemon=True,
        )
        self._thread.start()
        self.started.wait()
        if failed:
            raise failed[0]

    def _run_forever(
        self,
        serve: Serve,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None,
        *,
        install_signals: bool,
        failed: list[BaseException] | None = None,
    ) -> None:
        try:
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                runner.run(serve(install_signals))
        except BaseException as error:
            if failed is None or self.started.is_set():
                raise
            failed.append(error)
            self.started.set()


async def serve_until_stopped(
    stopped: asyncio.Event, stop: Callable[[], Awaitable[None]], install_signals: bool
) -> None:
    """Wait until ``stopped`` is set; SIGINT and SIGTERM call ``stop`` (when asked to
    install handlers: only the main thread may), and so does leaving early."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if install_signals else ()
    for signum in signals:
        loop.add_signal_handler(signum, stop)
    try:
        await stopped.wait()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        if not stopped.is_set():
            await stop()
