"""The public API: one list of names per package, mirrored for type checkers, and nothing
else in ``dir()``. The same checks hold for every plugin that ships with STS."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from types import ModuleType

import pytest

import sts
import sts_core.hookspecs
import sts_core.markers
import sts_core.plugins

PACKAGES = [
    "sts",
    "sts_cron",
    "sts_email",
    "sts_etcd",
    "sts_postgres",
    "sts_rabbitmq",
    "sts_shell",
    "sts_tui",
    "sts_webhook",
]


def type_checking_imports(module: ModuleType) -> dict[str, str]:
    """``{name: absolute module}`` of the ``if TYPE_CHECKING:`` block of ``module``."""
    tree = ast.parse(inspect.getsource(module))
    found: dict[str, str] = {}
    for node in tree.body:
        if not (isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)):
            continue
        for statement in node.body:
            assert isinstance(statement, ast.ImportFrom), ast.unparse(statement)
            source = "." * statement.level + (statement.module or "")
            absolute = importlib.util.resolve_name(source, module.__name__)
            for alias in statement.names:
                # "import X as X": an explicit re-export, which mypy --strict requires.
                assert alias.asname == alias.name, ast.unparse(statement)
                found[alias.name] = absolute
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_the_lazy_map_and_the_type_checking_imports_agree(package: str) -> None:
    module = importlib.import_module(package)
    resolved = {
        name: importlib.util.resolve_name(source, package) for name, source in module._API.items()
    }
    assert type_checking_imports(module) == resolved


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_the_api_and_every_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module._API) <= set(module.__all__)
    for name in module.__all__:
        value = getattr(module, name)
        if name in module._API:
            home = importlib.import_module(importlib.util.resolve_name(module._API[name], package))
            assert value is getattr(home, name)


@pytest.mark.parametrize("package", PACKAGES)
def test_dir_shows_only_the_api(package: str) -> None:
    module = importlib.import_module(package)
    assert dir(module) == sorted(module.__all__)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="module 'sts' has no attribute 'Schedular'"):
        sts.Schedular  # noqa: B018


def test_hookimpl_is_defined_once() -> None:
    assert sts.hookimpl is sts_core.markers.hookimpl
    assert not hasattr(sts_core.hookspecs, "hookimpl")
    assert not hasattr(sts_core.plugins, "hookimpl")


@pytest.mark.parametrize("package", PACKAGES[1:])
def test_a_plugin_lists_its_hook_implementations(package: str) -> None:
    # pluggy finds a module's hook implementations through dir(): one left out of
    # __all__ would silently never be called.
    module = importlib.import_module(package)
    hooks = {name for name, value in vars(module).items() if hasattr(value, "sts_impl")}
    assert hooks and hooks <= set(dir(module))
