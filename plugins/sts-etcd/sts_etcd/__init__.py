"""sts-etcd: jobs and settings from etcd, watched and applied live.

Registers the config source ``etcd`` (``[scheduler] sources = etcd``, options in
``[source:etcd]``) and the secret provider ``etcd`` (``[secrets] providers = env, etcd``,
options in ``[secrets:etcd]``); see docs/plugins/etcd.md. The etcd client is imported
when one is used, not when the plugin loads: ``sts --help`` does not pay for gRPC.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sts

if TYPE_CHECKING:
    from .source import EtcdSource

__all__ = ["EtcdSource"]

# Before gRPC is first imported: with gRPC's fork support on, each command a shell task
# starts (fork, then exec) runs gRPC's fork handlers in the child, which crash it (SIGSEGV,
# "epoll_ctl failed"). The child execs at once and needs none of them.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")


def __getattr__(name: str) -> Any:
    if name == "EtcdSource":
        from .source import EtcdSource

        return EtcdSource
    raise AttributeError(f"module 'sts_etcd' has no attribute {name!r}")


@sts.hookimpl
def sts_register_config_sources(register: Callable[..., None]) -> None:
    from .source import EtcdSource

    register("etcd", EtcdSource)


@sts.hookimpl
def sts_register_secret_providers(register: Callable[..., None]) -> None:
    from .secrets import EtcdSecrets

    register("etcd", EtcdSecrets)
