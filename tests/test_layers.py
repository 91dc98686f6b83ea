"""The layers hold at run time: no import cycle inside ``sts_core``. (Which layer may import
which is checked by ``lint-imports``, with the contracts in ``pyproject.toml``.)"""

from __future__ import annotations

import inspect
from types import ModuleType

import grimp


def import_cycles(package: str) -> list[list[str]]:
    """Groups of modules of ``package`` that import each other, directly or not, at run
    time (imports under ``if TYPE_CHECKING:`` are annotations only, and do not count)."""
    graph = grimp.build_graph(package, exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_sts_core_has_no_import_cycle() -> None:
    assert import_cycles("sts_core") == []


def test_a_cycle_would_be_found(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from . import a  # dodged, still a cycle\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("cyclic") == [["cyclic.a", "cyclic.b"]]


def methods_of(cls: type) -> list[str]:
    """The functions a class's own body defines (methods, properties, class methods)."""
    return [
        name
        for name, value in vars(cls).items()
        if callable(value) or isinstance(value, (property, classmethod, staticmethod))
    ]


def functions_taking_the_scheduler(module: ModuleType, scheduler_class: type) -> list[str]:
    """The module's own functions whose first parameter is the scheduler (annotated so,
    or named ``scheduler``): methods in all but name, written outside the class."""
    found = []
    for name, value in vars(module).items():
        if not inspect.isfunction(value) or value.__module__ != module.__name__:
            continue
        parameters = list(inspect.signature(value).parameters.values())
        if not parameters:
            continue
        first = parameters[0]
        # Under ``from __future__ import annotations`` the annotation is the text.
        if first.name == "scheduler" or first.annotation in (
            scheduler_class,
            scheduler_class.__name__,
        ):
            found.append(name)
    return found


def test_the_scheduler_keeps_to_its_api_and_its_start_and_stop() -> None:
    """Its parts live in modules of their own (job_registry, job_changes, fire_loop,
    loop_thread): a scheduler that grows past 30 methods is taking a role back (issue 11).
    A function of scheduler.py that takes the scheduler first counts as one of them."""
    from sts_core import scheduler
    from sts_core.scheduler import TaskScheduler

    methods = methods_of(TaskScheduler)
    assert "schedule" in methods and "start" in methods
    methods += functions_taking_the_scheduler(scheduler, TaskScheduler)
    assert len(methods) <= 30, methods


def test_a_function_taking_the_scheduler_counts_as_a_method() -> None:
    module = ModuleType("fake_scheduler")
    source = (
        "from __future__ import annotations\n"
        "from os.path import join\n"  # another module's function: not counted
        "class TaskScheduler: ...\n"
        "def _by_annotation(s: TaskScheduler, x: int) -> None: ...\n"
        "def _by_name(scheduler, x): ...\n"
        "def _scheduler_second(x: int, scheduler: TaskScheduler) -> None: ...\n"
    )
    exec(source, vars(module))
    assert functions_taking_the_scheduler(module, module.TaskScheduler) == [
        "_by_annotation",
        "_by_name",
    ]
