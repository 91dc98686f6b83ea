"""A package's public names, imported on first use, from one mapping.

``sts`` and the plugins declare ``{public name: module}`` once; this builds the module
``__getattr__`` and ``__dir__`` from it (PEP 562), so that importing the package stays
cheap and ``dir()`` shows the API and nothing else. Type checkers cannot follow a mapping:
the package mirrors it in an ``if TYPE_CHECKING:`` block of ``import X as X`` lines, and a
test checks that the two agree.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping


def lazy_exports(
    package: str, lazy: Mapping[str, str], eager: Iterable[str] = ()
) -> tuple[list[str], Callable[[str], object], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` for ``package``.

    :param lazy: public name -> module it is imported from on first use (absolute, or
        relative to ``package``).
    :param eager: public names the package defines or imports itself. A plugin module
        lists its hook implementations here: pluggy finds them through ``dir()``.
    """
    names = sorted({*lazy, *eager})

    def __getattr__(name: str) -> object:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # the next access skips __getattr__
        return value

    def __dir__() -> list[str]:
        return list(names)

    return names, __getattr__, __dir__
