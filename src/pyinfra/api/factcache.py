"""The per-host cache of fact values for one run.

Keys are ``(fact class, frozen fact arguments, frozen connector arguments)``; each
entry keeps the fact's arguments so that invalidation can match them (``path``...).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FactKey = tuple[Any, Any, Any]


@dataclass
class FactEntry:
    value: Any
    kwargs: dict[str, Any]
    predicted: bool = False  # set by a dry run, not read from the host


class FactCache:
    """Thread-safe mapping of fact keys to values, with predicate-based invalidation."""

    def __init__(self) -> None:
        self._entries: dict[FactKey, FactEntry] = {}
        self._lock = threading.Lock()

    def get(self, key: FactKey) -> FactEntry | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: FactKey, value: Any, kwargs: dict[str, Any]) -> None:
        with self._lock:
            self._entries[key] = FactEntry(value, kwargs)

    def drop_predictions(self) -> int:
        """Forget the values a dry run predicted; keep what was read from the host."""
        return self.drop(lambda key, entry: entry.predicted)

    def replace(self, drop: Callable[[FactKey], bool], key: FactKey, entry: FactEntry) -> None:
        """Drop the entries ``drop`` selects and store ``entry``, atomically."""
        with self._lock:
            for old in [k for k in self._entries if drop(k)]:
                del self._entries[old]
            self._entries[key] = entry

    def drop(self, predicate: Callable[[FactKey, FactEntry], bool]) -> int:
        """Remove the entries ``predicate`` selects; returns how many."""
        with self._lock:
            doomed = [k for k, e in self._entries.items() if predicate(k, e)]
            for key in doomed:
                del self._entries[key]
            return len(doomed)

    def items(self) -> list[tuple[FactKey, FactEntry]]:
        """A snapshot of the entries."""
        with self._lock:
            return list(self._entries.items())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
