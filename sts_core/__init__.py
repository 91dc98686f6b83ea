"""The STS engine. Users and plugins import the public API from ``sts`` instead."""

__version__ = "0.1.0"
