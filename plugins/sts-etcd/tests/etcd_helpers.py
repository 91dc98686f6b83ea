"""A real etcd server for the tests (Debian's etcd-server), on free loopback ports with a
data directory of its own, and etcdctl to write to it as an operator would."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

ETCD = shutil.which("etcd")
ETCDCTL = shutil.which("etcdctl")
MISSING = "etcd and etcdctl are not installed (apt-get install etcd-server etcd-client)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EtcdServer:
    """One etcd member; ``stop()`` and ``start()`` again keep its data and ports.

    :param tls: ``(ca_file, cert_file, key_file)``: serve clients over TLS.
    """

    def __init__(
        self,
        directory: Path,
        tls: tuple[Path, Path, Path] | None = None,
        client_certificates: bool = False,
    ) -> None:
        self.directory = directory
        self.client_certificates = client_certificates
        #: etcdctl's own certificate and key, for a server that asks for one.
        self.client_files: tuple[Path, Path] | None = None
        self.client_port = free_port()
        self.peer_port = free_port()
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None
        self.user: tuple[str, str] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self) -> None:
        scheme = "https" if self.tls else "http"
        client_url = f"{scheme}://{self.endpoint}"
        peer_url = f"http://127.0.0.1:{self.peer_port}"
        command = [
            str(ETCD),
            "--name=test",
            f"--data-dir={self.directory / 'data'}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=test={peer_url}",
            "--logger=zap",
            "--log-level=error",
        ]
        if self.tls:  # a --trusted-ca-file makes the server demand client certificates
            ca, cert, key = self.tls
            command += [f"--cert-file={cert}", f"--key-file={key}"]
            if self.client_certificates:
                command += [f"--trusted-ca-file={ca}", "--client-cert-auth"]
        log = (self.directory / "etcd.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"etcd exited: {(self.directory / 'etcd.log').read_text()}")
            if self.ctl("endpoint", "health", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("etcd did not become healthy within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``etcdctl ARGS`` against this server (as root once auth is on)."""
        scheme = "https" if self.tls else "http"
        command = [str(ETCDCTL), f"--endpoints={scheme}://{self.endpoint}", "--dial-timeout=2s"]
        if self.tls:
            ca, _, _ = self.tls
            command.append(f"--cacert={ca}")
        if self.client_files is not None:
            command += [f"--cert={self.client_files[0]}", f"--key={self.client_files[1]}"]
        if self.user is not None:
            command.append(f"--user={self.user[0]}:{self.user[1]}")
        environment = {**os.environ, "ETCDCTL_API": "3"}
        return subprocess.run(
            [*command, *args], capture_output=True, text=True, check=check, env=environment
        )

    def put(self, key: str, value: str) -> None:
        self.ctl("put", key, value)

    def delete(self, key: str, *, prefix: bool = False) -> None:
        self.ctl("del", key, *(["--prefix"] if prefix else []))

    def revision_of(self, key: str) -> int:
        import json

        answer = json.loads(self.ctl("get", key, "-w", "json").stdout)
        return int(answer["kvs"][0]["mod_revision"])


def record() -> None:
    """A job's task (``callable = etcd_helpers:record``): does nothing; its runs are
    counted from the scheduler's events."""


def job_keys(prefix: str, name: str, schedule: str) -> dict[str, str]:
    """The keys of a job that runs :func:`record`."""
    return {
        f"{prefix}job/{name}/type": "python",
        f"{prefix}job/{name}/callable": "etcd_helpers:record",
        f"{prefix}job/{name}/schedule": schedule,
    }


def write_ini(directory: Path, server: EtcdServer, prefix: str, extra: str = "") -> Path:
    path = directory / "sts.ini"
    path.write_text(
        f"[scheduler]\nname = etcd-test\ntimezone = UTC\n\n[config]\nsources = etcd\n\n"
        f"[source:etcd]\nendpoints = {server.endpoint}\nprefix = {prefix}\n"
        f"cache_file = {directory / 'cache.json'}\n{extra}"
    )
    path.chmod(0o600)
    return path
