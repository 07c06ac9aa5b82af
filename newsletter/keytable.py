"""A compact map from 64-bit reader keys to small numbers, for a million readers and more.

A Python ``set`` or ``dict`` of ints costs about 80 bytes per reader (the table's slot and an
int object each); this open-addressing table keeps the keys in one ``array('Q')`` and the
values in one ``array('H')``: 10 bytes per slot, at most half full (about 20 MB for a
million readers). Keys are hashes already (``subscribers.key``), so the low bits index the
table directly and linear probing finds a key in one or two steps.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

_EMPTY = 0  # a free slot; the key 0 is stored as 1 (one in 2**64: a collision like any other)
_START = 1 << 10


class KeyTable:
    """``key -> value`` for 64-bit keys and values 1..65535 (0 reads as "absent")."""

    __slots__ = ("_keys", "_mask", "_size", "_values")

    def __init__(self, expected: int = 0) -> None:
        """``expected``: about how many keys will come (room for them is made at once)."""
        size = _START
        while size < 2 * expected + 2:
            size *= 2
        self._keys = array("Q", bytes(8 * size))
        self._values = array("H", bytes(2 * size))
        self._mask = size - 1
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: int) -> bool:
        return self.get(key) != 0

    def get(self, key: int) -> int:
        """The value stored for ``key``, 0 if none."""
        key = key or 1
        keys, mask = self._keys, self._mask
        slot = key & mask
        while True:
            found = keys[slot]
            if found == key:
                return self._values[slot]
            if not found:
                return 0
            slot = (slot + 1) & mask

    def put(self, key: int, value: int) -> int:
        """Store ``value`` (1..65535) for ``key``; the value it had before (0: none)."""
        key = key or 1
        keys, mask = self._keys, self._mask
        slot = key & mask
        while True:
            found = keys[slot]
            if found == key:
                before: int = self._values[slot]
                self._values[slot] = value
                return before
            if not found:
                break
            slot = (slot + 1) & mask
        keys[slot] = key
        self._values[slot] = value
        self._size += 1
        if 2 * self._size > mask:
            self._grow()
        return 0

    def values(self) -> Iterator[int]:
        """The value of every key (in no particular order)."""
        return (value for key, value in zip(self._keys, self._values, strict=True)
                if key != _EMPTY)

    def _grow(self) -> None:
        old_keys, old_values = self._keys, self._values
        size = 2 * len(old_keys)
        self._keys = keys = array("Q", bytes(8 * size))
        self._values = values = array("H", bytes(2 * size))
        self._mask = mask = size - 1
        for key, value in zip(old_keys, old_values, strict=True):
            if key != _EMPTY:
                slot = key & mask
                while keys[slot] != _EMPTY:
                    slot = (slot + 1) & mask
                keys[slot] = key
                values[slot] = value
