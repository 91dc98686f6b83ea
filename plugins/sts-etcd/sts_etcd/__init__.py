"""sts-etcd: jobs and settings from etcd, watched and applied live.

Registers the config source ``etcd`` (``[scheduler] sources = etcd``, options in
``[source:etcd]``) and the secret provider ``etcd`` (``[secrets] providers = env, etcd``,
options in ``[secrets:etcd]``); see docs/plugins/etcd.md. The etcd client is imported
when one is used, not when the plugin loads: ``sts --help`` does not pay for gRPC.
"""

from __future__ import annotations

import os
import typing

import sts

if typing.TYPE_CHECKING:
    from .source import EtcdSource as EtcdSource

_API = {"EtcdSource": ".source"}

# Before gRPC is first imported: with gRPC's fork support on, each command a shell task
# starts (fork, then exec) runs gRPC's fork handlers in the child, which crash it (SIGSEGV,
# "epoll_ctl failed"). The child execs at once and needs none of them.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")


@sts.hookimpl
def sts_register_config_sources(register: sts.RegisterConfigSource) -> None:
    from .source import EtcdSource

    register("etcd", EtcdSource)


@sts.hookimpl
def sts_register_secret_providers(register: sts.RegisterSecretProvider) -> None:
    from .secrets import EtcdSecrets

    register("etcd", EtcdSecrets)


__all__, __getattr__, __dir__ = sts.lazy_exports(
    __name__, _API, eager=["sts_register_config_sources", "sts_register_secret_providers"]
)
del os, typing
