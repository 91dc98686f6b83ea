"""The service around the engine: configuration files, the ``sts`` command, the control
socket, the SQLite store, log sinks and user paths.

The service imports the engine (``sts_core``); the engine never imports the service
(an import-linter contract in ``pyproject.toml`` keeps it so).
"""
