"""The plugin contract: hooks, registries, load order, entry points, errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import types
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pluggy
import pytest
from core_helpers import Recorder

import sts
from sts.testing import VirtualClock
from sts_core.plugins import create_plugins, hook_names

DISTS = Path(__file__).parent / "plugin_dists"
ROOT = Path(__file__).parent.parent


class TwoKinds:
    @sts.hookimpl
    def sts_register_triggers(self, register):  # type: ignore[no-untyped-def]
        register("every", lambda spec, **options: None)


def test_a_duplicate_registration_names_both_plugins(sts_plugins: sts.Plugins) -> None:
    sts_plugins.register(TwoKinds(), name="copycat")
    with pytest.raises(sts.PluginError) as error:
        sts_plugins.triggers  # noqa: B018 - collecting the registry raises
    message = str(error.value)
    assert "'every' is registered twice" in message
    assert "'sts_core.builtin'" in message and "'copycat'" in message


def test_a_hookimpl_with_an_unknown_argument_is_rejected(sts_plugins: sts.Plugins) -> None:
    class Wrong:
        @sts.hookimpl
        def sts_register_triggers(self, register, surprise):  # type: ignore[no-untyped-def]
            pass

    with pytest.raises(pluggy.PluginValidationError, match="surprise"):
        sts_plugins.register(Wrong(), name="wrong")


def test_a_plugin_failing_in_a_hook_is_reported_and_skipped(
    sts_plugins: sts.Plugins, capsys: pytest.CaptureFixture[str]
) -> None:
    class Fails:
        @sts.hookimpl
        def sts_register_task_types(self, register):  # type: ignore[no-untyped-def]
            raise RuntimeError("no luck")

    sts_plugins.register(Fails(), name="unlucky")
    assert "python" in sts_plugins.task_types
    assert 'plugin "unlucky" failed in sts_register_task_types' in capsys.readouterr().err


def test_schedule_cron_without_the_plugin_names_it() -> None:
    bare = create_plugins(load_entry_points=False)
    scheduler = sts.TaskScheduler(plugins=bare)
    with pytest.raises(sts.PluginError) as error:
        scheduler.schedule_cron(Recorder(VirtualClock()), "0 0 * * *")
    message = str(error.value)
    assert "no trigger kind 'cron' is installed" in message
    assert "installed: at, every" in message
    assert "pip install ./plugins/sts-cron" in message
    assert "pip install 'sts-scheduler[cron]'" in message


def test_lifecycle_hooks_are_called_in_order(virtual_clock: VirtualClock) -> None:
    calls: list[str] = []

    class Observer:
        @sts.hookimpl
        def sts_scheduler_started(self, scheduler):  # type: ignore[no-untyped-def]
            calls.append("started")

        @sts.hookimpl
        def sts_job_changed(self, job, change):  # type: ignore[no-untyped-def]
            calls.append(f"{change} {job.name}")

        @sts.hookimpl
        def sts_run_started(self, run):  # type: ignore[no-untyped-def]
            calls.append(f"run started {run.job} #{run.attempt}")

        @sts.hookimpl
        def sts_run_finished(self, record):  # type: ignore[no-untyped-def]
            calls.append(f"run finished {record.job} {record.outcome}")

        @sts.hookimpl
        def sts_scheduler_stopping(self, scheduler):  # type: ignore[no-untyped-def]
            calls.append("stopping")

    plugins = create_plugins(load_entry_points=False)
    plugins.register(Observer(), name="observer")

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock, plugins=plugins) as scheduler:
            job = scheduler.schedule(Recorder(virtual_clock, fail_times=1), "every 10s", retries=1)
            await asyncio.sleep(12)
            scheduler.pause(job)

    virtual_clock.run(main())
    assert calls == [
        "started",
        "added Recorder",
        "run started Recorder #1",
        "run finished Recorder failed",
        "run started Recorder #2",
        "run finished Recorder succeeded",
        "paused Recorder",
        "stopping",
    ]


def test_a_lifespan_context_spans_every_run(virtual_clock: VirtualClock) -> None:
    calls: list[str] = []

    class Lifespan:
        async def __aenter__(self) -> None:
            calls.append("entered")

        async def __aexit__(self, *exc_info: object) -> None:
            calls.append("exited")

    class Around:
        @sts.hookimpl
        def sts_scheduler_lifespan(self, scheduler, main):  # type: ignore[no-untyped-def]
            calls.append(f"asked main={main}")
            return Lifespan()

        @sts.hookimpl
        def sts_run_finished(self, record):  # type: ignore[no-untyped-def]
            calls.append(f"run {record.outcome}")

    plugins = create_plugins(load_entry_points=False)
    plugins.register(Around(), name="around")

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock, plugins=plugins) as scheduler:
            scheduler.schedule(Recorder(virtual_clock, duration=5), "every 10s")
            await asyncio.sleep(12)

    virtual_clock.run(main())
    # The run under way at stop finishes (within stop_grace) before the context exits.
    assert calls == ["asked main=False", "entered", "run succeeded", "exited"]


def test_a_plugin_refusing_a_job_as_it_is_scheduled_leaves_nothing_added(
    virtual_clock: VirtualClock,
) -> None:
    seen: list[str] = []

    class Checker:
        refuse_every_20s = False

        @sts.hookimpl
        def sts_job_scheduled(self, scheduler, job):  # type: ignore[no-untyped-def]
            seen.append(f"{scheduler.name}: {job.name} {job.schedule}")
            if job.name == "refused":
                raise ValueError("refused: no such queue")
            if self.refuse_every_20s and job.schedule == "every 20s":
                raise ValueError("refused: every 20s")

    plugins = create_plugins(load_entry_points=False)
    plugins.register(Checker(), name="checker")
    scheduler = sts.TaskScheduler(name="s1", clock=virtual_clock, plugins=plugins)
    scheduler.schedule(Recorder(virtual_clock), "every 10s", name="kept")
    with pytest.raises(ValueError, match="refused: no such queue"):
        scheduler.schedule(Recorder(virtual_clock), "every 10s", name="refused")
    assert [job.name for job in scheduler.jobs] == ["kept"]
    assert [task.name for task in scheduler.tasks] == ["Recorder"]  # the refused one's went
    # replace=True asks first, with the new trigger; refused, the job is left as it was
    kept = scheduler.get_job("kept")
    Checker.refuse_every_20s = True
    with pytest.raises(ValueError, match="refused: every 20s"):
        scheduler.schedule(Recorder(virtual_clock), "every 20s", name="kept", replace=True)
    assert scheduler.get_job("kept") is kept and kept.schedule == "every 10s"
    assert [task.name for task in scheduler.tasks] == ["Recorder"]
    Checker.refuse_every_20s = False
    scheduler.schedule(Recorder(virtual_clock), "every 20s", name="kept", replace=True)
    assert kept.schedule == "every 20s"
    assert seen == [
        "s1: kept every 10s",
        "s1: refused every 10s",
        "s1: kept every 20s",
        "s1: kept every 20s",
    ]


def test_the_stopping_hook_is_told_the_stops_grace(virtual_clock: VirtualClock) -> None:
    graces: list[float] = []

    class Observer:
        @sts.hookimpl
        def sts_scheduler_stopping(self, grace):  # type: ignore[no-untyped-def]
            graces.append(grace)

    plugins = create_plugins(load_entry_points=False)
    plugins.register(Observer(), name="observer")

    async def main() -> None:
        scheduler = sts.TaskScheduler(clock=virtual_clock, plugins=plugins, stop_grace="7s")
        await scheduler.start()
        await scheduler.stop()
        await scheduler.start()
        await scheduler.stop(grace="2s")

    virtual_clock.run(main())
    assert graces == [7.0, 2.0]


def test_a_failing_lifespan_context_aborts_the_start(virtual_clock: VirtualClock) -> None:
    class Refuses:
        async def __aenter__(self) -> None:
            raise OSError("address in use")

        async def __aexit__(self, *exc_info: object) -> None:
            pass

    class Around:
        @sts.hookimpl
        def sts_scheduler_lifespan(self, scheduler, main):  # type: ignore[no-untyped-def]
            return Refuses()

    plugins = create_plugins(load_entry_points=False)
    plugins.register(Around(), name="around")
    task = Recorder(virtual_clock)
    scheduler = sts.TaskScheduler(clock=virtual_clock, plugins=plugins)
    scheduler.schedule(task, "every 1s")
    with pytest.raises(OSError, match="address in use"):
        virtual_clock.run(scheduler.start())
    assert not scheduler.running and task.starts == []


def test_run_hooks_tell_which_scheduler_a_run_belongs_to(virtual_clock: VirtualClock) -> None:
    seen: list[tuple[str, str, str]] = []

    class Observer:
        @sts.hookimpl
        def sts_run_started(self, run, scheduler):  # type: ignore[no-untyped-def]
            seen.append(("started", scheduler.name, run.job))

        @sts.hookimpl
        def sts_run_finished(self, record, scheduler):  # type: ignore[no-untyped-def]
            seen.append(("finished", scheduler.name, record.job))

    plugins = create_plugins(load_entry_points=False)
    plugins.register(Observer(), name="observer")

    async def main() -> None:
        first = sts.TaskScheduler(name="first", clock=virtual_clock, plugins=plugins)
        second = sts.TaskScheduler(name="second", clock=virtual_clock, plugins=plugins)
        first.schedule(Recorder(virtual_clock, name="a"), "every 10s")
        second.schedule(Recorder(virtual_clock, name="b"), "every 15s")
        async with first, second:
            await asyncio.sleep(16)

    virtual_clock.run(main())
    assert sorted(set(seen)) == [
        ("finished", "first", "a"),
        ("finished", "second", "b"),
        ("started", "first", "a"),
        ("started", "second", "b"),
    ]


def test_a_plugin_registered_while_the_scheduler_runs_sees_the_next_jobs_and_runs(
    virtual_clock: VirtualClock,
) -> None:
    # The engine looks a hook's implementations up once and calls them itself on its hot
    # paths: registering (and unregistering) a plugin must be seen all the same.
    seen: list[str] = []

    class Late:
        @sts.hookimpl
        def sts_job_scheduled(self, job):  # type: ignore[no-untyped-def]
            seen.append(f"scheduled {job.name}")

        @sts.hookimpl
        def sts_run_started(self, run):  # type: ignore[no-untyped-def]
            seen.append(f"started {run.job}")

    plugins = create_plugins(load_entry_points=False)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock, plugins=plugins) as scheduler:
            scheduler.schedule(Recorder(virtual_clock, name="early"), "every 10s")
            await asyncio.sleep(11)  # early ran once, unseen
            plugins.register(Late(), name="late")
            scheduler.schedule(Recorder(virtual_clock, name="later"), "every 10s")
            await asyncio.sleep(12)  # both ran once more (at 20 and 21 s), seen
            plugins.unregister("late")
            scheduler.schedule(Recorder(virtual_clock, name="last"), "every 10s")
            await asyncio.sleep(10)  # unseen again

    virtual_clock.run(main())
    assert sorted(seen) == ["scheduled later", "started early", "started later"]


class _Plain:
    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    @sts.hookimpl
    def sts_job_changed(self, job, change):  # type: ignore[no-untyped-def]
        self.seen.append(("plain", job, change))


class _WithADefault(_Plain):
    @sts.hookimpl
    def sts_job_changed(self, job, change, scheduler=None):  # type: ignore[no-untyped-def]
        self.seen.append(("default", job, change, scheduler))


class _Wrapper(_Plain):
    @sts.hookimpl(wrapper=True)
    def sts_job_changed(self, job):  # type: ignore[no-untyped-def,override]
        self.seen.append(("before", job))
        yield
        self.seen.append(("after", job))


class _First(_Plain):
    @sts.hookimpl(tryfirst=True)
    def sts_job_changed(self, job, change):  # type: ignore[no-untyped-def]
        self.seen.append(("first", job, change))


class _Last(_Plain):
    @sts.hookimpl(trylast=True)
    def sts_job_changed(self, job, change):  # type: ignore[no-untyped-def]
        self.seen.append(("last", job, change))


@pytest.mark.parametrize(
    "kinds",
    [
        [_Plain],
        [_Plain, _WithADefault],
        [_Plain, _Wrapper],
        [_Last, _Plain, _First, _WithADefault],
    ],
)
def test_plugins_call_does_what_pluggys_call_does(kinds: list[type[_Plain]]) -> None:
    # Plugins.call skips pluggy for speed; where only pluggy calls a hook right (a wrapper,
    # an argument with a default that pluggy may fill) it must hand the call to pluggy.
    plugins = create_plugins(load_entry_points=False)
    seen: list[object] = []
    for index, kind in enumerate(kinds):
        plugins.register(kind(seen), name=f"p{index}")
    plugins.hook.sts_job_changed(scheduler="S", job="J", change="added")
    by_pluggy = list(seen)
    seen.clear()
    plugins.call("sts_job_changed", scheduler="S", job="J", change="added")
    assert seen == by_pluggy
    assert len(seen) == len(kinds) + (1 if _Wrapper in kinds else 0)


def test_a_plugin_registered_while_a_hook_is_looked_up_is_not_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another thread registers a plugin between pluggy's answer and the cache's store: the
    # stale answer must not be what later calls get.
    plugins = create_plugins(load_entry_points=False)
    seen: list[object] = []
    hook = plugins.hook.sts_job_changed
    answer = type(hook).get_hookimpls

    def register_meanwhile(caller: Any) -> list[Any]:
        found = answer(caller)
        if caller is hook and not seen and "meanwhile" not in plugins.infos:
            plugins.register(_Plain(seen), name="meanwhile")
        return found

    monkeypatch.setattr(type(hook), "get_hookimpls", register_meanwhile)
    assert plugins.implementations("sts_job_changed") == ()  # the answer of its moment
    plugins.call("sts_job_changed", scheduler="S", job="J", change="added")
    assert seen == [("plain", "J", "added")]


def test_a_plugins_one_shot_trigger_in_the_past_is_recorded_as_missed(
    virtual_clock: VirtualClock,
) -> None:
    past = virtual_clock.now() - timedelta(hours=1)

    class Once:
        def first_fire_time(self, now: datetime) -> datetime | None:
            return past

        def next_fire_time(self, after: datetime) -> datetime | None:
            return past if past > after else None

        def __str__(self) -> str:
            return "once"

    class OncePlugin:
        @sts.hookimpl
        def sts_register_triggers(self, register):  # type: ignore[no-untyped-def]
            register("once", lambda spec, **options: Once())

    plugins = create_plugins(load_entry_points=False)
    plugins.register(OncePlugin(), name="once-plugin")
    store = sts.MemoryStore()
    task = Recorder(virtual_clock)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock, plugins=plugins, store=store) as s:
            s.schedule(task, "once now", misfire_grace="1m")
            await asyncio.sleep(1)

    virtual_clock.run(main())
    assert task.starts == []
    assert [record.outcome for record in store.history()] == [sts.Outcome.MISSED]


def test_a_hook_that_raises_does_not_stop_the_scheduler(virtual_clock: VirtualClock) -> None:
    class Broken:
        @sts.hookimpl
        def sts_run_finished(self, record):  # type: ignore[no-untyped-def]
            raise RuntimeError("observer bug")

    plugins = create_plugins(load_entry_points=False)
    plugins.register(Broken(), name="broken")
    task = Recorder(virtual_clock)

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock, plugins=plugins) as scheduler:
            scheduler.schedule(task, "every 10s")
            await asyncio.sleep(35)

    virtual_clock.run(main())
    assert len(task.starts) == 3


def test_register_plugin_fixture_unregisters_after_the_test(register_plugin) -> None:  # type: ignore[no-untyped-def]
    class Extra:
        @sts.hookimpl
        def sts_register_task_types(self, register):  # type: ignore[no-untyped-def]
            register("extra", Recorder)

    register_plugin(Extra(), name="extra-plugin")
    assert "extra" in sts.TaskScheduler().plugins.task_types


def test_the_extra_plugin_is_gone_again() -> None:
    assert "extra" not in sts.TaskScheduler().plugins.task_types


def test_every_hook_is_documented() -> None:
    text = (ROOT / "docs" / "plugins.md").read_text()
    names = hook_names()
    assert "sts_register_log_sinks" in names and "sts_run_finished" in names
    for name in names:
        assert f"### `{name}(" in text, f"docs/plugins.md does not document {name}"


def test_the_core_imports_neither_textual_nor_any_plugin() -> None:
    code = (
        "import sys, pkgutil, importlib, sts_core, sts\n"
        "for info in pkgutil.walk_packages(sts_core.__path__, 'sts_core.'):\n"
        "    if info.name != 'sts_core.service.testing': importlib.import_module(info.name)\n"
        "import sts.testing\n"
        "sts.TaskScheduler().plugins\n"  # loading plugins imports plugin modules only
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'sts_cron', 'sts_shell', 'sts_tui', 'croniter', 'hello_sts'))\n"
        "print(','.join(bad))\n"
    )
    env = {**os.environ, "STS_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == ""


@pytest.fixture(scope="module")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hello and broken plugin distributions, pip-installed into a target directory."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(DISTS / "hello-sts"),
            str(DISTS / "broken-sts"),
        ],
        check=True,
        capture_output=True,
    )
    return target


def registered_types(output: str) -> list[str]:
    return output.split("types:")[1].splitlines()[0].strip().split(",")


def run_with(site: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STS_")}
    environment.update(env, PYTHONPATH=str(site))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=60
    )


HELLO = """
import asyncio, sts
plugins = sts.create_plugins()
print("types:", ",".join(sorted(plugins.task_types)))
print("info:", plugins.infos.get("hello"))
if "hello" in plugins.task_types:
    Hello = plugins.task_types.get("hello")
    async def main():
        async with sts.TaskScheduler(plugins=plugins) as scheduler:
            await asyncio.wrap_future(scheduler.run_now(Hello(who="Ada")))
    asyncio.run(main())
"""


def test_an_installed_plugin_is_discovered_through_its_entry_point(
    installed_plugins: Path,
) -> None:
    result = run_with(installed_plugins, HELLO)
    assert "hello" in registered_types(result.stdout)
    assert "PluginInfo(name='hello', distribution='hello-sts', version='1.2.3')" in result.stdout
    assert "hello Ada" in result.stdout
    # the broken plugin is reported by name on stderr, and skipped
    assert 'error importing plugin "broken"' in result.stderr
    assert "a_module_that_does_not_exist" in result.stderr
    assert result.returncode == 0


def test_plugin_environment_switches(installed_plugins: Path) -> None:
    off = run_with(installed_plugins, HELLO, STS_DISABLE_PLUGIN_AUTOLOAD="1")
    assert registered_types(off.stdout) == ["python"] and "broken" not in off.stderr
    only = run_with(installed_plugins, HELLO, STS_LOAD_PLUGINS="hello")
    assert "hello Ada" in only.stdout and "broken" not in only.stderr
    blocked = run_with(installed_plugins, HELLO, STS_DISABLE_PLUGINS="hello,broken")
    assert "hello" not in registered_types(blocked.stdout)
    assert blocked.stderr == ""


class _BrokenWithADefault:
    # An argument with a default is filled by pluggy (1.7 passes it): such an implementation
    # is called through pluggy, on its own all the same.
    @sts.hookimpl
    def sts_scheduler_started(self, scheduler, grace=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("broken on start")

    @sts.hookimpl
    def sts_run_finished(self, record, scheduler=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("broken on finish")


class _Broken:
    @sts.hookimpl
    def sts_scheduler_started(self, scheduler):  # type: ignore[no-untyped-def]
        raise RuntimeError("broken on start")

    @sts.hookimpl
    def sts_run_finished(self, record):  # type: ignore[no-untyped-def]
        raise RuntimeError("broken on finish")


@pytest.mark.parametrize("broken", [_Broken, _BrokenWithADefault])
def test_a_plugin_failing_in_a_hook_stops_neither_the_scheduler_nor_the_other_plugins(
    virtual_clock: VirtualClock, caplog: pytest.LogCaptureFixture, broken: type
) -> None:
    seen: list[str] = []

    class Observer:
        @sts.hookimpl
        def sts_scheduler_started(self, scheduler):  # type: ignore[no-untyped-def]
            seen.append("started")

        @sts.hookimpl
        def sts_run_finished(self, record):  # type: ignore[no-untyped-def]
            seen.append(f"finished {record.outcome}")

    plugins = create_plugins(load_entry_points=False)
    plugins.register(Observer(), name="observer")
    plugins.register(broken(), name="broken")  # registered last: pluggy calls it first

    async def main() -> None:
        async with sts.TaskScheduler(name="sturdy", clock=virtual_clock, plugins=plugins) as s:
            s.schedule(Recorder(virtual_clock), "every 10s")
            await asyncio.sleep(11)

    with caplog.at_level("INFO", logger="sts"):
        virtual_clock.run(main())
    assert seen == ["started", "finished succeeded"]
    messages = [record.getMessage() for record in caplog.records]
    # The service's built-in plugin logged the start-up line despite the broken plugin.
    assert any(message.startswith("scheduler sturdy started: ") for message in messages)
    failures = [m for m in messages if "of plugin 'broken' failed" in m]
    assert failures == [
        "the sts_scheduler_started hook of plugin 'broken' failed",
        "the sts_run_finished hook of plugin 'broken' failed",
    ]


def test_loading_a_plugin_resolves_none_of_its_lazy_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin exports its API lazily (sts_postgres's store imports psycopg); loading it must
    not import that, whatever pluggy does with the other names of ``dir(plugin)``."""
    resolved: list[str] = []

    def old_pluggy(self: pluggy.PluginManager, plugin: object, name: str) -> object:
        # pluggy before 1.7 read every name of dir(plugin) with getattr.
        value = getattr(plugin, name)
        return getattr(value, "sts_impl", None) if callable(value) else None

    monkeypatch.setattr(pluggy.PluginManager, "parse_hookimpl_opts", old_pluggy)

    def lazy(name: str) -> object:
        resolved.append(name)
        raise AttributeError(name)

    @sts.hookimpl
    def sts_register_task_types(register: sts.RegisterTaskType) -> None:
        pass

    plugin = types.ModuleType("lazy_plugin")
    plugin.__dict__.update(
        __getattr__=lazy,
        __dir__=lambda: ["HeavyStore", "sts_register_task_types"],
        sts_register_task_types=sts_register_task_types,
    )
    plugins = create_plugins(load_entry_points=False)
    plugins.register(plugin, name="lazy")

    assert resolved == []
    found = plugins.manager.hook.sts_register_task_types.get_hookimpls()
    assert "lazy" in [impl.plugin_name for impl in found]


def test_each_registration_hook_is_annotated_with_its_own_register_type() -> None:
    """pluggy does not check annotations and mypy cannot see through it: a plugin's
    ``register`` typed as another hook's would pass both."""
    import sts_core.hookspecs
    import sts_core.service.hookspecs

    specs = {**vars(sts_core.hookspecs), **vars(sts_core.service.hookspecs)}
    manager = create_plugins().manager
    checked = 0
    for name in hook_names():
        if not name.startswith("sts_register_"):
            continue
        wanted = specs[name].__annotations__["register"].rsplit(".", 1)[-1]
        for impl in getattr(manager.hook, name).get_hookimpls():
            annotation = str(impl.function.__annotations__.get("register"))
            assert annotation.rsplit(".", 1)[-1] == wanted, (impl.plugin_name, name, annotation)
            checked += 1
    assert checked >= 20  # the built-in plugins' and the eight shipped plugins' hooks
