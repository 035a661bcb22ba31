"""Small parsing helpers shared by the fact modules."""

from __future__ import annotations

from typing import Any


def first_line(output: list[str]) -> str:
    """The first output line without surrounding whitespace (``""`` if none)."""
    return output[0].strip() if output else ""


def try_int(value: Any) -> Any:
    """``int(value)`` when ``value`` is a whole number, else ``value`` unchanged."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value
