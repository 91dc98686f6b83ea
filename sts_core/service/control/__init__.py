"""The control socket: how ``sts`` commands and the terminal UI talk to a running scheduler.

The protocol is documented in ``docs/control-protocol.md``.
"""

from __future__ import annotations

from .client import ControlClient, control_request, default_control_socket, request
from .protocol import PROTOCOL_VERSION, ControlError
from .server import ControlServer, control_server, start_control_server

__all__ = [
    "PROTOCOL_VERSION",
    "ControlClient",
    "ControlError",
    "ControlServer",
    "control_request",
    "control_server",
    "default_control_socket",
    "request",
    "start_control_server",
]
