"""The plugin's client group: one connection per client, idle clients kept per origin and
closed when idle too long (also with no call to notice), at most MAX_CONNECTIONS open;
against a real server on loopback."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sts_webhook import clients
from sts_webhook.clients import ClientGroup, ClientSettings
from webhook_helpers import Reply, ScriptedServer


async def call(group: ClientGroup, origin: str, url: str) -> httpx.AsyncClient:
    async with group.client(5.0, origin) as client:
        (await client.get(url)).raise_for_status()
        return client


def test_idle_clients_are_kept_per_origin_and_closed_when_idle_without_any_call(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clients, "KEEPALIVE_EXPIRY", 0.3)

    async def main() -> None:
        group = ClientGroup(ClientSettings())
        first_a = await call(group, "a", server.url)
        first_b = await call(group, "b", server.url)
        assert first_a is not first_b  # another origin: another client
        assert await call(group, "a", server.url) is first_a  # kept alive, reused
        assert group.clients == {first_a, first_b}
        await asyncio.sleep(0.8)  # no call comes: the sweep closes them anyway
        assert group.clients == set()
        assert first_a.is_closed and first_b.is_closed
        again = await call(group, "a", server.url)
        assert again is not first_a and not again.is_closed
        await group.aclose()
        assert again.is_closed

    asyncio.run(main())
    assert len({seen.client for seen in server.seen}) == 3  # a, b, then a new one for a


def test_at_most_max_connections_are_open_the_longest_idle_is_closed_for_room(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clients, "MAX_CONNECTIONS", 2)

    async def main() -> None:
        group = ClientGroup(ClientSettings())
        oldest = await call(group, "a", server.url)
        newer = await call(group, "b", server.url)
        third = await call(group, "c", server.url)  # no room: a's client goes
        await asyncio.sleep(0)  # its closing runs in a task of its own
        assert group.clients == {newer, third}
        assert oldest.is_closed and not newer.is_closed
        await group.aclose()
        assert newer.is_closed and third.is_closed

    asyncio.run(main())


def test_a_cookie_one_answer_sets_never_rides_on_a_later_call(server: ScriptedServer) -> None:
    # One client serves every job's calls to an origin: a session cookie set in the answer
    # to one job's call must not be sent with the next job's (as a browser would).
    server.routes["/login"] = Reply(headers={"Set-Cookie": "session=job-a; Path=/"})

    async def main() -> None:
        group = ClientGroup(ClientSettings())
        first = await call(group, "o", server.url + "/login")
        again = await call(group, "o", server.url + "/other")
        assert again is first  # the same connection, so the same client
        assert len(first.cookies) == 0
        await group.aclose()

    asyncio.run(main())
    assert [seen.path for seen in server.seen] == ["/login", "/other"]
    assert "cookie" not in server.seen[1].headers
