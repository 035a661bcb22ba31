"""What the ``mysql`` and ``postgres`` operations share (private): checks of their
arguments and the change of one entry (a database, a role, a user) of a fact that
maps names to details."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.operations.util import fail


def port_number(op: str, argument: str, port: Any) -> int | None:
    """The ``*_port`` connection argument as a number (None: the client's default)."""
    if port is None:
        return None
    if isinstance(port, bool) or not str(port).isdigit():
        raise fail(op, f"argument {argument} must be a port number, got {port!r}")
    return int(port)


def check_name(op: str, value: Any, argument: str, newlines: bool = True) -> str:
    """A non-empty name without NUL characters (nor newlines unless ``newlines``)."""
    if not isinstance(value, str) or not value:
        raise fail(op, f"argument {argument} must be a non-empty string, got {value!r}")
    if not newlines and ("\0" in value or "\n" in value):
        raise fail(op, f"argument {argument} must not contain NUL or newline characters")
    if "\0" in value:
        raise fail(op, f"argument {argument} must not contain NUL characters")
    return value


def check_sql(op: str, sql: Any) -> None:
    if not isinstance(sql, str) or not sql.strip():
        raise fail(op, f"argument sql must be non-empty SQL text, got {sql!r}")


def drop_entry(
    label: str,
    command: StringCommand,
    fact: type[Any],
    kwargs: dict[str, Any],
    entries: dict[str, Any],
    key: str,
    also_drop: tuple[type[Any], ...] = (),
    known: tuple[tuple[type[Any], dict[str, Any], Any], ...] = (),
) -> Generator[Any, Any, None]:
    """Remove the entry ``key`` of ``entries`` (``label``: "mysql user app@localhost")
    with ``command``; nothing to do when it does not exist."""
    if key not in entries:
        host.noop(f"{label} does not exist")
        return
    yield command
    yield entry_change(fact, kwargs, entries, key, None, also_drop, known)


def entry_change(
    fact: type[Any],
    kwargs: dict[str, Any],
    entries: dict[str, Any],
    key: str,
    value: Any,
    also_drop: tuple[type[Any], ...] = (),
    known: tuple[tuple[type[Any], dict[str, Any], Any], ...] = (),
) -> FactChange:
    """``fact`` (read with ``kwargs``: ``entries``) is dropped; a dry run predicts it
    with ``key`` set to ``value``, or without ``key`` when ``value`` is None."""
    if value is None:
        predicted = {k: v for k, v in entries.items() if k != key}
    else:
        predicted = {**entries, key: value}
    return FactChange(facts=(fact, *also_drop), expect=((fact, kwargs, predicted),), known=known)
