"""Benchmarks: STS side by side with APScheduler 3.11 and the bare-asyncio ceiling.

Run ``python -m bench`` (or ``python -m bench --quick`` for the smoke test) from the
repository root. Each measurement runs in its own subprocess (``bench.worker``), the
contenders in alternating order, and the parent prints one table with every ratio
against the ceiling. ``docs/performance.md`` explains the workloads and the numbers.
"""
