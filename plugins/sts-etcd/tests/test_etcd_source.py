"""The config source on a real etcd: jobs that exist only in etcd run; a put, a changed
schedule and a delete are applied live; a bad value is refused whole, naming its key and
revision; a start with etcd down; TLS and a user with a password."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
import sts_etcd
import trustme
from etcd_helpers import EtcdServer, job_keys, write_ini

import sts
from sts.testing import require


def make_plugins() -> sts.Plugins:
    plugins = sts.create_plugins(load_entry_points=False)
    plugins.register(sts_etcd, name="etcd")
    return plugins


def load(path: Path) -> Any:
    # The service's loader, as `sts run` uses it (sts.TaskScheduler.from_config builds the
    # same scheduler, with its reloader attached).
    return sts.TaskScheduler.from_config(path, plugins=make_plugins(), store=sts.MemoryStore())


def reloader_of(scheduler: sts.TaskScheduler) -> sts.Reloader:
    reloader = sts.reloader_of(scheduler)
    assert reloader is not None
    return reloader


class Results:
    """Each reload's result, as the scheduler announces them, with an event per result."""

    def __init__(self, scheduler: sts.TaskScheduler) -> None:
        self.items: list[Any] = []
        self.arrived = asyncio.Event()
        reloader_of(scheduler).listeners.append(self._add)

    def _add(self, result: Any) -> None:
        self.items.append(result)
        self.arrived.set()

    async def next(self, timeout: float = 30) -> Any:
        async with asyncio.timeout(timeout):
            while not self.items:
                self.arrived.clear()
                await self.arrived.wait()
        return self.items.pop(0)


def test_jobs_from_etcd_run_and_show_their_key_and_revision(
    etcd: EtcdServer, prefix: str, tmp_path: Path
) -> None:
    for key, value in job_keys(prefix, "beat", "every 1s").items():
        etcd.put(key, value)
    revision = etcd.revision_of(f"{prefix}job/beat/schedule")
    path = write_ini(tmp_path, etcd, prefix)
    config = config_of(path)
    assert config.origin("job:beat", "schedule") == f"etcd:{prefix}job/beat/schedule@{revision}"
    scheduler = load(path)
    fired: list[str] = []
    scheduler.add_listener(
        lambda event, **facts: (
            fired.append(facts["record"].job) if event == "run_finished" else None
        )
    )

    async def main() -> None:
        async with scheduler:
            for _ in range(300):  # two runs, or 30 s: a loaded machine is slow to start
                if fired.count("beat") >= 2:
                    break
                await asyncio.sleep(0.1)

    asyncio.run(main())
    assert fired.count("beat") >= 2


def config_of(path: Path) -> Any:
    """The configuration a scheduler was built from (``sts config`` shows the same)."""
    return reloader_of(load(path)).config


def test_put_change_and_delete_apply_live_within_a_second(
    etcd: EtcdServer, prefix: str, tmp_path: Path, capsys: Any
) -> None:
    for key, value in job_keys(prefix, "base", "every 1h").items():
        etcd.put(key, value)
    scheduler = load(write_ini(tmp_path, etcd, prefix))
    latencies: list[float] = []

    async def timed(change: Any) -> Any:
        started = time.perf_counter()
        await asyncio.to_thread(change)
        result = await results.next()
        latencies.append(time.perf_counter() - started)
        return result

    async def main() -> None:
        nonlocal results
        async with scheduler:
            results = Results(scheduler)
            # A new job: three keys written by a script, applied as one reload.
            keys = job_keys(prefix, "fresh", "every 1s")
            added = await timed(lambda: [etcd.put(k, v) for k, v in keys.items()])
            while "fresh" not in added.added:  # a reload may have seen part of the burst
                added = await results.next()
            assert scheduler.get_job("fresh").schedule == "every 1s"
            for number in range(20):
                schedule = f"every {number + 2}m"
                key = f"{prefix}job/base/schedule"
                result = await timed(lambda key=key, schedule=schedule: etcd.put(key, schedule))
                assert result.ok and result.changed == {"base": ["schedule"]}, result
                assert scheduler.get_job("base").schedule == schedule
            removed = await timed(lambda: etcd.delete(f"{prefix}job/fresh/", prefix=True))
            assert removed.removed == ["fresh"]
            assert [job.name for job in scheduler.jobs] == ["base"]

    results: Any = None
    asyncio.run(main())
    changes = latencies[1:21]
    with capsys.disabled():
        print(
            f"\netcd change -> applied, 20 schedule changes: median "
            f"{statistics.median(changes) * 1000:.0f} ms, max {max(changes) * 1000:.0f} ms; "
            f"new job {latencies[0] * 1000:.0f} ms, delete {latencies[-1] * 1000:.0f} ms"
        )


def test_a_bad_value_is_refused_whole_naming_its_key_and_revision(
    etcd: EtcdServer, prefix: str, tmp_path: Path
) -> None:
    for key, value in job_keys(prefix, "steady", "every 1h").items():
        etcd.put(key, value)
    scheduler = load(write_ini(tmp_path, etcd, prefix))

    async def main() -> None:
        async with scheduler:
            results = Results(scheduler)
            etcd.put(f"{prefix}job/steady/schedule", "every fortnight")
            refused = await results.next()
            revision = etcd.revision_of(f"{prefix}job/steady/schedule")
            assert not refused.ok
            [error] = refused.errors
            assert error.startswith(f"etcd:{prefix}job/steady/schedule@{revision}: ")
            assert "every fortnight" in error
            assert scheduler.get_job("steady").schedule == "every 1h"  # the old one runs on
            etcd.put(f"{prefix}job/steady/schedule", "every 2h")
            fixed = await results.next()
            assert fixed.ok and scheduler.get_job("steady").schedule == "every 2h"

    asyncio.run(main())


def test_a_start_with_etcd_down(etcd: EtcdServer, prefix: str, tmp_path: Path, caplog: Any) -> None:
    for key, value in job_keys(prefix, "cached", "every 1h").items():
        etcd.put(key, value)
    path = write_ini(tmp_path, etcd, prefix)
    assert "job:cached" in config_of(path).settings.sections  # read once: cached
    down = path.read_text().replace(etcd.endpoint, "127.0.0.1:1")
    path.write_text(down + "timeout = 1\n")
    config = config_of(path)  # from the cache, with a warning
    assert config.origin("job:cached", "type").startswith(f"etcd:{prefix}job/cached/type@")
    assert "starting from the configuration cached at" in caplog.text
    path.write_text(down + "timeout = 1\nrequired = true\n")
    with pytest.raises(ValueError, match=r"cannot be read .* \(required = true\)"):
        config_of(path)


def test_tls_and_a_user_with_a_password(
    tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etcd_helpers import ETCD, ETCDCTL, MISSING

    require(ETCD is not None and ETCDCTL is not None, MISSING)
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    certificate.cert_chain_pems[0].write_to_path(str(cert_file))
    certificate.private_key_pem.write_to_path(str(key_file))
    server = EtcdServer(tmp_path, tls=(ca_file, cert_file, key_file))
    server.start()
    try:
        server.ctl("user", "add", "root:root-secret")
        server.ctl("user", "add", "sts:sts-secret")
        server.ctl("role", "add", "sts-reader")
        server.ctl("role", "grant-permission", "sts-reader", "read", prefix, "--prefix=true")
        server.ctl("user", "grant-role", "sts", "sts-reader")
        server.ctl("auth", "enable")
        server.user = ("root", "root-secret")
        for key, value in job_keys(prefix, "secure", "every 1h").items():
            server.put(key, value)
        monkeypatch.setenv("ETCD_TEST_PASSWORD", "sts-secret")
        extra = f"ca_file = {ca_file}\nusername = sts\npassword = ${{secret:ETCD_TEST_PASSWORD}}\n"
        path = write_ini(tmp_path, server, prefix, extra)
        assert "job:secure" in config_of(path).settings.sections
        # A wrong password, and a server certificate without its CA, are refused (with
        # required = true: otherwise the source would start from its cache).
        wrong = f"ca_file = {ca_file}\nusername = sts\npassword = wrong\nrequired = true\n"
        with pytest.raises(ValueError, match="cannot be read"):
            config_of(write_ini(tmp_path, server, prefix, wrong))
        untrusted = "username = sts\npassword = sts-secret\nrequired = true\n"
        with pytest.raises(ValueError, match="cannot be read"):
            config_of(write_ini(tmp_path, server, prefix, untrusted))
    finally:
        server.stop()


def test_a_burst_of_twenty_puts_is_one_reload(
    etcd: EtcdServer, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etcd3aio import Etcd3Client
    from sts_etcd import source

    # Wider than the defaults (0.2 s quiet, 0.6 s at most, a 1 s probe): on a loaded
    # machine twenty fsynced puts may be slower than that, and that is not what this checks.
    monkeypatch.setattr("sts_core.service.reload.watching.QUIET", 1.0)
    monkeypatch.setattr("sts_core.service.reload.watching.MOST_DELAY", 5.0)
    monkeypatch.setattr(source, "PROBE_INTERVAL", 5.0)

    for key, value in job_keys(prefix, "first", "every 1h").items():
        etcd.put(key, value)
    scheduler = load(write_ini(tmp_path, etcd, prefix))
    burst = {}
    for number in range(6):
        burst.update(job_keys(prefix, f"burst{number}", "every 1h"))
    burst[f"{prefix}job/first/retries"] = "2"
    burst[f"{prefix}job/first/timeout"] = "1m"
    assert len(burst) == 20

    async def main() -> None:
        async with scheduler:
            results = Results(scheduler)
            async with Etcd3Client([etcd.endpoint]) as client:  # a script, writing fast
                assert client.kv is not None
                for key, value in burst.items():
                    await client.kv.put(key, value)
            result = await results.next()
            assert result.ok, result.errors
            assert sorted(result.added) == [f"burst{number}" for number in range(6)]
            assert result.changed == {"first": ["retries", "timeout"]}
            await asyncio.sleep(2.5)
            assert results.items == []  # one reload for the twenty puts, not twenty

    asyncio.run(main())


def test_tls_with_client_certificates(tmp_path: Path, prefix: str) -> None:
    from etcd_helpers import ETCD, ETCDCTL, MISSING

    require(ETCD is not None and ETCDCTL is not None, MISSING)
    ca = trustme.CA()
    server_certificate = ca.issue_cert("127.0.0.1", "localhost")
    client_certificate = ca.issue_cert("sts-client")
    files = {
        name: tmp_path / f"{name}.pem"
        for name in ("ca", "cert", "key", "client-cert", "client-key")
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    server_certificate.cert_chain_pems[0].write_to_path(str(files["cert"]))
    server_certificate.private_key_pem.write_to_path(str(files["key"]))
    client_certificate.cert_chain_pems[0].write_to_path(str(files["client-cert"]))
    client_certificate.private_key_pem.write_to_path(str(files["client-key"]))
    server = EtcdServer(
        tmp_path, tls=(files["ca"], files["cert"], files["key"]), client_certificates=True
    )
    server.client_files = (files["client-cert"], files["client-key"])
    server.start()
    try:
        for key, value in job_keys(prefix, "mutual", "every 1h").items():
            server.put(key, value)
        extra = (
            f"ca_file = {files['ca']}\ncert_file = {files['client-cert']}\n"
            f"key_file = {files['client-key']}\nrequired = true\n"
        )
        assert (
            "job:mutual" in config_of(write_ini(tmp_path, server, prefix, extra)).settings.sections
        )
        without = f"ca_file = {files['ca']}\nrequired = true\n"
        with pytest.raises(ValueError, match="cannot be read"):
            config_of(write_ini(tmp_path, server, prefix, without))
    finally:
        server.stop()
