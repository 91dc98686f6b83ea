"""The placeholders every task type offers: one set of names, one escape, one filling."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import sts
from sts.testing import VirtualClock


def test_a_placeholder_is_filled_escaped_or_left_alone() -> None:
    facts = dict.fromkeys(sts.PLACEHOLDER_NAMES, "x") | {"job": "a b/c"}
    assert sts.fill_placeholders("--tag={job}-{attempt}", facts) == "--tag=a b/c-x"
    assert (
        sts.fill_placeholders("{{job}} {unknown} {print $1}", facts) == "{job} {unknown} {print $1}"
    )
    url = sts.fill_placeholders("/hook/{job}", facts, escape=lambda value: quote(value, safe=""))
    assert url == "/hook/a%20b%2Fc"


def test_the_facts_are_the_run_s_or_a_run_of_its_own(virtual_clock: VirtualClock) -> None:
    alone = sts.run_facts("report")
    assert alone["job"] == "report" and alone["attempt"] == "1"
    assert alone["idempotency_key"] == f"report@{alone['fire_time']}"
    assert sorted(alone) == sorted(sts.PLACEHOLDER_NAMES)
    seen: list[dict[str, str]] = []

    async def work() -> None:
        seen.append(sts.run_facts("ignored"))

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(sts.FunctionTask(work, name="work"), "every 10s", name="nightly")
            await asyncio.sleep(15)

    virtual_clock.run(main())
    [facts] = seen
    assert facts["job"] == "nightly" and facts["run_id"] != alone["run_id"]
    assert facts["idempotency_key"] == f"nightly@{facts['fire_time']}"
