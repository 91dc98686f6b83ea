"""A bounded set that forgets its oldest entries: what a process remembers of the
attempts and messages it has seen lately, without growing for ever."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)


class Remembered(Generic[T]):
    """The last ``size`` entries added (adding one again does not make it younger)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[T, None] = OrderedDict()

    def add(self, entry: T) -> None:
        self._entries[entry] = None
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def discard(self, entry: T) -> None:
        self._entries.pop(entry, None)

    def __contains__(self, entry: object) -> bool:
        return entry in self._entries

    def __len__(self) -> int:
        return len(self._entries)
