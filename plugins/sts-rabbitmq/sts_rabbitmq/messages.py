"""What travels through the broker, as JSON: a fire (scheduler -> worker), a claim and an
outcome (worker -> scheduler), an answer to a claim (scheduler -> worker).

Everything travels in batches, one message per peer and turn of the sender's loop
(``batching.py``): the fires due together, ``{"v": 1, "fires": [...]}`` (a burst split
between the pool's workers; a lone fire is a message of its own, ``{"v": 1, "job": ...}``),
``{"v": 1, "batch": [...]}`` of claims or outcomes, and ``{"v": 1, "answers": [...]}`` of
answers, each naming the claim it answers. The broker hands a message of fires to one
worker, and redelivers it whole; each fire of it is claimed on its own, so a fire of a
redelivered message that ran already is refused, and only the others run again.

Every message names its attempt by ``(idempotency key, attempt)``: the key is the AMQP
``message_id`` of a fire, and what the scheduler records each attempt under exactly once.
A message of fires also carries an id of its own (the header ``x-sts-message``, the same on
every redelivery of it; a copy split from it carries its own and ``x-sts-split-from``), and
a claim names both: the scheduler lets a redelivered claim take an attempt over only from a
redelivery of the message its holder got, or from one copy split from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import sts

VERSION = 1

Decoded = TypeVar("Decoded")


class BadMessage(ValueError):
    """A message that is not one STS wrote (or one from an incompatible version)."""


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: Any, key: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadMessage(f"{key} is not an ISO time: {value!r}") from None
    if parsed.tzinfo is None:
        raise BadMessage(f"{key} has no UTC offset: {value!r}")
    try:
        # Records, listings and keys use it in UTC: a time that overflows there (year 9999
        # at -14:00) is refused here, not when a listing of history fails on it.
        parsed.astimezone(UTC)
    except OverflowError:
        raise BadMessage(f"{key} is out of range once in UTC: {value!r}") from None
    return parsed


def _fire_key_parts(job: str, fire_time: datetime | None, what: str) -> None:
    """A fire's key is ``job@fire time``: a job name that is not empty."""
    if not job or fire_time is None:
        raise BadMessage(f"{what} names no job and fire time")


def _load(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        # Not only JSONDecodeError: Python's json raises a ValueError of its own for an
        # integer of over 4,300 digits, and RecursionError for arrays nested too deep.
        raise BadMessage(f"not JSON: {_shorter(error)}") from None
    if not isinstance(data, dict):
        raise BadMessage("not a JSON object")
    if data.get("v") != VERSION:
        raise BadMessage(f"version {data.get('v')!r}, expected {VERSION}")
    return data


def _shorter(error: BaseException) -> str:
    text = str(error)
    return text if len(text) <= 200 else text[:200] + "..."


def _decoded(decode: Callable[[], Decoded]) -> Decoded:
    """What ``decode`` makes of a message, or ``BadMessage``: a value of the right type
    that is still out of range (a time that overflows once made UTC, a number too large
    for a float) says so too, instead of an error the caller does not expect."""
    try:
        return decode()
    except BadMessage:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        raise BadMessage(f"a value out of range: {_shorter(error)}") from None


def _field(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadMessage(f"{key} missing or not a {kind.__name__}")
    return value


@dataclass(frozen=True, slots=True)
class FireMessage:
    """An attempt to run: what a worker needs besides the job's definition (which it
    loads from the same configuration, and checks against ``digest``)."""

    run_id: str
    job: str
    fire_time: datetime
    attempt: int
    manual: bool
    digest: str
    scheduler: str
    start_deadline: datetime | None
    #: Until when a message of this fire is worth delivering: past its start deadline when
    #: the job has a timeout (a run started in time is taken over if its worker dies, up
    #: to its backstop), else the start deadline (from a scheduler of an earlier version
    #: too). ``None`` with no start deadline: no bound.
    expires: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.job}@{self.fire_time.astimezone(UTC).isoformat()}"

    def encode(self) -> bytes:
        return json.dumps({"v": VERSION, **self._data()}).encode()

    @staticmethod
    def encode_batch(fires: list[FireMessage]) -> bytes:
        """Several fires in one message (one fire: the message of that fire alone)."""
        if len(fires) == 1:
            return fires[0].encode()
        return json.dumps({"v": VERSION, "fires": [fire._data() for fire in fires]}).encode()

    def _data(self) -> dict[str, Any]:
        data = {
            "run_id": self.run_id,
            "job": self.job,
            "fire_time": _time(self.fire_time),
            "attempt": self.attempt,
            "manual": self.manual,
            "digest": self.digest,
            "scheduler": self.scheduler,
            "start_deadline": _time(self.start_deadline),
        }
        if self.expires is not None and self.expires != self.start_deadline:
            data["expires"] = _time(self.expires)
        return data

    @classmethod
    def decode(cls, body: bytes) -> FireMessage:
        return _decoded(lambda: cls._from(_load(body)))

    @classmethod
    def decode_all(cls, body: bytes) -> list[FireMessage]:
        """The fires of a message: several, or the one it is."""
        return _decoded(lambda: cls._all(body))

    @classmethod
    def _all(cls, body: bytes) -> list[FireMessage]:
        data = _load(body)
        if "fires" not in data:
            return [cls._from(data)]
        fires = data["fires"]
        if not isinstance(fires, list) or not fires or not all(isinstance(f, dict) for f in fires):
            raise BadMessage("fires is not a list of objects")
        return [cls._from(fire) for fire in fires]

    @classmethod
    def _from(cls, data: dict[str, Any]) -> FireMessage:
        fire_time = _parse_time(_field(data, "fire_time", str), "fire_time")
        _fire_key_parts(_field(data, "job", str), fire_time, "the fire")
        assert fire_time is not None
        start_deadline = _parse_time(data.get("start_deadline"), "start_deadline")
        return cls(
            run_id=_field(data, "run_id", str),
            job=_field(data, "job", str),
            fire_time=fire_time,
            attempt=_field(data, "attempt", int),
            manual=bool(data.get("manual")),
            digest=_field(data, "digest", str),
            scheduler=_field(data, "scheduler", str),
            start_deadline=start_deadline,
            expires=(
                _parse_time(data["expires"], "expires") if "expires" in data else start_deadline
            ),
        )


@dataclass(slots=True)
class WorkerMessage:
    """A worker's claim of an attempt (``kind = "claim"``: may I run it?), its hold on one
    it was granted (``kind = "hold"``: I still have it, ``leases.py``) or its outcome
    (``kind = "outcome"``)."""

    kind: str
    key: str
    attempt: int
    run_id: str
    worker: str
    redelivered: bool = False
    outcome: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    traceback: str | None = None
    output: dict[str, str] = field(default_factory=dict)
    retry: bool = False
    retry_after: float = 0.0
    #: A claim's name for its answer (claims of one batch share the message's).
    correlation: str = ""
    #: A claim's message of fires (its ``x-sts-message``), and the one it was split from
    #: (``x-sts-split-from``): empty from a peer of an earlier version.
    source: str = ""
    split_from: str = ""
    #: The worker process's own id (random, made at its start): two workers can share a
    #: ``worker`` name (``host:pid``: containers on one host's network are all pid 1).
    #: Empty from a peer of an earlier version.
    instance: str = ""

    def encode(self) -> bytes:
        return json.dumps({"v": VERSION, **self._data()}).encode()

    @staticmethod
    def encode_batch(sent: list[WorkerMessage]) -> bytes:
        return json.dumps({"v": VERSION, "batch": [one._data() for one in sent]}).encode()

    def _data(self) -> dict[str, Any]:
        # Field by field (not dataclasses.asdict, which deep-copies: a tenth of a worker's
        # CPU per fire).
        data: dict[str, Any] = {
            "kind": self.kind,
            "key": self.key,
            "attempt": self.attempt,
            "run_id": self.run_id,
            "worker": self.worker,
            "redelivered": self.redelivered,
            "outcome": self.outcome,
            "started_at": _time(self.started_at),
            "finished_at": _time(self.finished_at),
            "error": self.error,
            "traceback": self.traceback,
            "output": self.output,
            "retry": self.retry,
            "retry_after": self.retry_after,
            "correlation": self.correlation,
        }
        if self.source:  # claims and holds only
            data["source"], data["split_from"] = self.source, self.split_from
        if self.instance:
            data["instance"] = self.instance
        return data

    @classmethod
    def decode(cls, body: bytes) -> WorkerMessage:
        return _decoded(lambda: cls._from(_load(body)))

    @classmethod
    def decode_each(cls, body: bytes) -> tuple[list[WorkerMessage], list[str]]:
        """The good messages of a batch (or the one message ``body`` is) and why each bad
        one is bad: one forged or broken item must not take the others with it.

        :raises BadMessage: when ``body`` is no batch at all.
        """
        batch = _decoded(lambda: cls._items(body))
        good: list[WorkerMessage] = []
        bad: list[str] = []
        for one in batch:
            try:
                good.append(_decoded(partial(cls._from, one)))
            except BadMessage as error:
                bad.append(str(error))
        return good, bad

    @classmethod
    def _items(cls, body: bytes) -> list[dict[str, Any]]:
        data = _load(body)
        if "batch" not in data:
            return [data]
        batch = data["batch"]
        if not isinstance(batch, list) or not all(isinstance(one, dict) for one in batch):
            raise BadMessage("batch is not a list of objects")
        return batch

    @classmethod
    def _from(cls, data: dict[str, Any]) -> WorkerMessage:
        kind = _field(data, "kind", str)
        if kind not in ("claim", "hold", "outcome"):
            raise BadMessage(f"kind {kind!r}, expected claim, hold or outcome")
        outcome = data.get("outcome")
        if kind == "outcome":
            try:
                sts.Outcome(str(outcome))
            except ValueError:
                raise BadMessage(f"outcome {outcome!r} is not an sts.Outcome") from None
        output = data.get("output") or {}
        if not isinstance(output, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in output.items()
        ):
            raise BadMessage("output is not an object of texts")
        retry_after = data.get("retry_after") or 0.0
        if isinstance(retry_after, bool) or not isinstance(retry_after, int | float):
            raise BadMessage("retry_after is not a number")
        key = _field(data, "key", str)
        job, at, fire_time = key.rpartition("@")
        if not at:
            raise BadMessage(f"key {key!r} is not job@fire time")
        _fire_key_parts(job, _parse_time(fire_time, "the key's fire time"), f"key {key!r}")
        return cls(
            kind=kind,
            key=key,
            attempt=_field(data, "attempt", int),
            run_id=_field(data, "run_id", str),
            worker=_field(data, "worker", str),
            redelivered=bool(data.get("redelivered")),
            outcome=outcome,
            started_at=_parse_time(data.get("started_at"), "started_at"),
            finished_at=_parse_time(data.get("finished_at"), "finished_at"),
            error=data.get("error") if isinstance(data.get("error"), str) else None,
            traceback=data.get("traceback") if isinstance(data.get("traceback"), str) else None,
            output=output,
            retry=bool(data.get("retry")),
            retry_after=float(retry_after),
            correlation=str(data.get("correlation") or ""),
            source=str(data.get("source") or ""),
            split_from=str(data.get("split_from") or ""),
            instance=str(data.get("instance") or ""),
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """The scheduler's answer to a claim: run it, drop it and why, or (``wait``) keep it
    and ask again: another worker may still hold the attempt (``leases.py``)."""

    granted: bool
    reason: str = ""
    wait: bool = False

    def encode(self) -> bytes:
        return json.dumps({"v": VERSION, **self._data()}).encode()

    def _data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"granted": self.granted, "reason": self.reason}
        if self.wait:
            data["wait"] = True
        return data

    @classmethod
    def decode(cls, body: bytes) -> Answer:
        return _decoded(lambda: cls._from(_load(body)))

    @classmethod
    def _from(cls, data: dict[str, Any]) -> Answer:
        return cls(bool(data.get("granted")), str(data.get("reason") or ""), bool(data.get("wait")))

    @staticmethod
    def encode_batch(answers: list[tuple[str, Answer]]) -> bytes:
        """The answers to one batch of claims, each under its claim's correlation."""
        items = [{"correlation": correlation, **answer._data()} for correlation, answer in answers]
        return json.dumps({"v": VERSION, "answers": items}).encode()

    @classmethod
    def decode_batch(cls, body: bytes) -> list[tuple[str, Answer]]:
        return _decoded(lambda: cls._batch(body))

    @classmethod
    def _batch(cls, body: bytes) -> list[tuple[str, Answer]]:
        data = _load(body)
        items = data.get("answers")
        if not isinstance(items, list) or not all(isinstance(one, dict) for one in items):
            raise BadMessage("answers is not a list of objects")
        return [(str(one.get("correlation") or ""), cls._from(one)) for one in items]
