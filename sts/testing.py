"""Testing helpers for STS and its plugins: a pytest plugin (fixtures ``virtual_clock``,
``sts_plugins``, ``register_plugin``) and the :class:`VirtualClock`."""

from sts_core.service.testing import (  # the autouse fixture too: this module is the pytest plugin
    VirtualClock,
    VirtualEventLoop,
    _sts_process_state,  # noqa: F401 - pytest finds autouse fixtures on the plugin module
    register_plugin,
    require,
    sts_plugins,
    virtual_clock,
)

__all__ = [
    "VirtualClock",
    "VirtualEventLoop",
    "register_plugin",
    "require",
    "sts_plugins",
    "virtual_clock",
]
