"""The hook specifications of the service: what plugins add to configuration, logging,
secrets and the ``sts`` command.

The engine's hooks (``sts_core/hookspecs.py``) are the ones a scheduler calls; these are
called only by the service, which is why they live with it. The engine adds them to every
plugin manager by module name (``plugins.HOOKSPEC_MODULES``), so that a plugin sees one
set of hooks and the engine imports nothing from the service. Every hook here is
documented in ``docs/plugins.md``; a test keeps that true.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..markers import hookspec

if TYPE_CHECKING:
    import logging

    from .secrets import SecretProvider


class RegisterConfigSource(Protocol):
    """``register(name, factory)`` of ``sts_register_config_sources``:
    ``factory(**options)`` makes a config source."""

    def __call__(self, name: str, factory: Callable[..., Any], /) -> None: ...


class RegisterLogSink(Protocol):
    """``register(name, factory)`` of ``sts_register_log_sinks``: ``factory(**options)``
    makes a ``logging.Handler``."""

    def __call__(self, name: str, factory: Callable[..., logging.Handler], /) -> None: ...


class RegisterSecretProvider(Protocol):
    """``register(name, factory)`` of ``sts_register_secret_providers``:
    ``factory(**options)`` makes a secret provider."""

    def __call__(self, name: str, factory: Callable[..., SecretProvider], /) -> None: ...


class RegisterCommand(Protocol):
    """``register(name, configure, handler, help=, attach=)`` of
    ``sts_register_commands``: an ``sts`` subcommand."""

    def __call__(
        self,
        name: str,
        configure: Callable[[Any], None],
        handler: Callable[[Any], int],
        /,
        help: str = "",
        attach: Callable[[Any], int] | None = None,
    ) -> None: ...


@hookspec
def sts_register_config_sources(register: RegisterConfigSource) -> None:
    """Register configuration sources, layered between ``config.ini`` and the environment.

    :param register: ``register(name, factory)``. ``factory(**options)`` returns an object
        with ``load() -> dict[str, dict[str, str]]`` (section -> key -> value; a value may
        also be a ``(value, origin)`` pair, naming where it came from) and ``origin: str``
        (shown by ``sts config``). ``load()`` is called off the event loop, on a fresh
        object for every (re)load. A factory parameter named ``scheduler_name`` gets the
        scheduler's name.

        The object may also have ``watch()``: an async iterator of change notices (any
        object; its text is logged). While a scheduler built from the configuration runs,
        it iterates the ``watch()`` of the source object it started with and reloads once
        a burst of notices settles. A ``watch()`` that raises or ends is started again.

    Example::

        class EtcdSource:
            origin = "etcd"
            def load(self): ...            # {"job:backup": {"schedule": "cron 0 3 * * *"}}
            async def watch(self):          # optional
                async for revision in self._changes():
                    yield f"revision {revision}"
    """


@hookspec
def sts_register_log_sinks(register: RegisterLogSink) -> None:
    """Register log sinks, chosen in the ``[logging]`` section.

    :param register: ``register(name, factory)``. ``factory(**options)`` returns a
        ``logging.Handler``.
    """


@hookspec
def sts_register_secret_providers(register: RegisterSecretProvider) -> None:
    """Register secret providers that resolve ``${secret:NAME}`` values.

    :param register: ``register(name, factory)``. ``factory(**options)`` returns an object
        with ``get(name: str) -> str | None``.
    """


@hookspec
def sts_register_commands(register: RegisterCommand) -> None:
    """Register ``sts`` subcommands (the terminal UI adds ``sts tui`` this way).

    :param register: ``register(name, configure, handler, help="...")``: ``configure`` adds
        arguments to an ``argparse.ArgumentParser``; ``handler(args) -> int`` runs the
        command and returns its exit code. Import heavy modules inside ``handler``, so that
        ``sts --help`` stays fast. ``attach=run(scheduler) -> int`` (optional) runs a
        scheduler with this front end in one process: ``sts run --tui``.
    """
