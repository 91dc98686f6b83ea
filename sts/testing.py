"""Testing helpers for STS and its plugins: a pytest plugin (fixtures ``virtual_clock``,
``sts_plugins``, ``register_plugin``) and the :class:`VirtualClock`."""

from sts_core.service.testing import *  # noqa: F403 - the names of its __all__, below
from sts_core.service.testing import __all__ as __all__

# pytest finds autouse fixtures on the plugin module: this one is the pytest plugin.
from sts_core.service.testing import _sts_process_state  # noqa: F401
