"""Which servers a webhook may call: ``allow_hosts`` and ``deny_private``.

The rules are checked for every request httpx sends, redirects included (an httpx request
hook), on the addresses the host name resolves to, so a public-looking name that resolves
to ``127.0.0.1`` is refused like ``127.0.0.1`` itself. They stop a config file or a
template from reaching the machine's own services or a cloud metadata endpoint.
"""

from __future__ import annotations

import asyncio
import fnmatch
import functools
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from .errors import WebhookRefused, WebhookUnreachable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The request extension that carries a request's rules to the client's request hook.
EXTENSION = "sts_webhook.destinations"


class DestinationRefused(WebhookRefused):
    """A destination rule refused the request; the message names the rule."""


@dataclass(frozen=True, slots=True)
class DestinationRules:
    """The destination rules of one webhook.

    :param host_patterns: host names (``hooks.example.com``) and shell-style patterns
        (``*.example.com``); a match is allowed, private or not.
    :param networks: addresses (``127.0.0.1``) and ranges (``10.0.0.0/8``): a host whose
        every address is inside one of them is allowed, private or not.
    :param deny_private: refuse hosts with a loopback, private, link-local or otherwise
        non-public address, unless ``allow_hosts`` names them.
    """

    host_patterns: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()
    deny_private: bool = True
    entries: tuple[str, ...] = ()
    """``allow_hosts`` as written, for messages."""

    @classmethod
    def parse(cls, allow_hosts: Sequence[str], deny_private: bool) -> DestinationRules:
        patterns: list[str] = []
        networks: list[IPNetwork] = []
        for position, entry in enumerate(allow_hosts, start=1):
            text = entry.strip().lower()
            if "/" in text or _is_ip(text):  # an address is a range of one
                try:
                    networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
                except ValueError:
                    raise ValueError(
                        f"invalid allow_hosts entry {position} ({entry!r}): not an address "
                        f"range; expected e.g. 10.0.0.0/8"
                    ) from None
            elif not text or any(character in text for character in ":@/ "):
                raise ValueError(
                    f"invalid allow_hosts entry {position} ({entry!r}): expected a host name "
                    f"or pattern (hooks.example.com, *.example.com), an address (127.0.0.1) "
                    f"or a range (10.0.0.0/8), without scheme or port"
                )
            else:
                patterns.append(text.strip("[]"))
        entries = tuple(entry.strip() for entry in allow_hosts)
        return cls(tuple(patterns), tuple(networks), deny_private, entries)

    @property
    def listed(self) -> bool:
        return bool(self.host_patterns or self.networks)

    async def check(self, url: httpx.URL) -> None:
        """Refuse ``url`` unless the rules allow its host.

        :raises DestinationRefused: naming the host, its address and the rule.
        :raises WebhookUnreachable: when the host name does not resolve.
        """
        host = url.host.lower()
        if any(fnmatch.fnmatchcase(host, pattern) for pattern in self.host_patterns):
            return
        if not self.listed and not self.deny_private:
            return
        addresses = await _resolve(host, url.port or (443 if url.scheme == "https" else 80))
        if self.networks and all(
            any(address in network for network in self.networks) for address in addresses
        ):
            return
        if self.listed:
            raise DestinationRefused(
                f"refused {origin_of(url)}: the host {host} is not in allow_hosts "
                f"({', '.join(self.entries)})"
            )
        for address in addresses:
            kind = _non_public_kind(address)
            if kind is not None:
                via = "" if _is_ip(host) else f" resolves to {address}, which"
                raise DestinationRefused(
                    f"refused {origin_of(url)}: {host}{via} is {kind} address, and "
                    f"deny_private = true refuses loopback, private and link-local addresses; "
                    f"list the host in allow_hosts to call it"
                )


async def check_request(request: httpx.Request) -> None:
    """The client's request hook: apply the rules the request carries (every redirect
    carries its first request's extensions, so its rules too)."""
    rules = request.extensions.get(EXTENSION)
    if rules is not None:
        await rules.check(request.url)


def origin_of(url: httpx.URL) -> str:
    """``scheme://host:port`` of ``url``, for messages (never its path, query or user)."""
    port = f":{url.port}" if url.port else ""
    host = f"[{url.host}]" if ":" in url.host else url.host  # an IPv6 address
    return f"{url.scheme}://{host}{port}"


def _is_ip(text: str) -> bool:
    return _literal_address(text.strip("[]")) is not None


@functools.lru_cache(maxsize=256)
def _literal_address(host: str) -> IPAddress | None:
    """``host`` as an address when it is one (cached: parsing one costs more than the rest
    of the check, on every call)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _resolve(host: str, port: int) -> list[IPAddress]:
    literal = _literal_address(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise WebhookUnreachable(
            f"the host {host} does not resolve: {error.strerror or error}"
        ) from None
    # The scope of a link-local IPv6 address ("fe80::1%eth0") is not part of the address.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _non_public_kind(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback"
    if address.is_link_local:
        return "a link-local"
    if address.is_unspecified:
        return "an unspecified"
    if address.is_private:
        return "a private"
    if address.is_multicast or address.is_reserved or not address.is_global:
        return "a non-public"
    return None
