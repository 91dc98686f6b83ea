"""A local SMTP server that counts what it accepts, in a process of its own so that it
takes no CPU from the scheduler measured: ``python -m bench.smtp_sink``.

Prints ``ready <port>`` once listening; each line ``count`` on stdin is answered with the
number of messages accepted so far; end of input stops it.
"""

from __future__ import annotations

import socket
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.count += 1
        return "250 OK"


def main() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    print(f"ready {port}", flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "count":
                print(counter.count, flush=True)
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
