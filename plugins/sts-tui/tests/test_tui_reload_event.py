"""The event log shows a live reload of the scheduler's configuration as one line."""

from __future__ import annotations

from sts_tui.event_log import describe


def test_a_reload_is_one_line_with_its_summary() -> None:
    applied = {"ok": True, "summary": "+1 -0 ~2", "errors": []}
    assert describe("reloaded", applied) == ("↻ reloaded: +1 -0 ~2", "blue")


def test_a_refused_reload_shows_its_first_problem() -> None:
    refused = {"ok": False, "summary": "+0 -0 ~0", "errors": ["etcd:/sts/x@4: bad", "more"]}
    assert describe("reloaded", refused) == ("✗ reload refused: etcd:/sts/x@4: bad", "red")
