"""A local SMTP server that counts what it accepts, in a process of its own so that it
takes no CPU from the scheduler measured: ``python -m bench.smtp_sink``.

Prints ``ready <port>`` once listening; each line ``count`` on stdin is answered with the
number of messages accepted so far and the number of notifications they carried (a grouped
mail says how many in ``X-STS-Count``); end of input stops it.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller

_GROUP_COUNT = re.compile(rb"^X-STS-Count: (\d+)\r?$", re.MULTILINE)


class Counter:
    def __init__(self) -> None:
        self.messages = 0
        self.notifications = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        head = envelope.content.partition(b"\r\n\r\n")[0]
        group = _GROUP_COUNT.search(head)
        with self.lock:
            self.messages += 1
            self.notifications += int(group[1]) if group else 1
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
                print(counter.messages, counter.notifications, flush=True)
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
