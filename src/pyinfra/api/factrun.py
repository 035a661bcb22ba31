"""How a fact runs: its command (guarded by the program it requires), the parsing of its
output, its cache key, and how often each fact ran. Shared by single reads
(:mod:`pyinfra.api.facts`) and batched ones (:mod:`pyinfra.api.factbatch`).
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyinfra.api.arguments import SECRET_ARGUMENT_KEYS
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import FactError, FactProcessError, MissingCommandError
from pyinfra.api.factcache import FactKey

if TYPE_CHECKING:
    from pyinfra.api.facts import FactBase
    from pyinfra.api.host import Host

logger = logging.getLogger("pyinfra")

# Arguments that change how a fact runs but not what it returns: not part of the cache key.
NOT_IN_KEY = {"_timeout", *SECRET_ARGUMENT_KEYS}


def freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(freeze(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


_signatures: dict[type[Any], inspect.Signature] = {}


def normalize_fact_arguments(fact_cls: type[Any], args: Any, kwargs: Any) -> dict[str, Any]:
    """``args``/``kwargs`` bound to the fact's ``command`` signature, defaults applied.

    ``File("/x")`` and ``File(path="/x")`` give the same result (and cache entry).
    """
    signature = _signatures.get(fact_cls)
    if signature is None:
        signature = inspect.signature(fact_cls.command)
        _signatures[fact_cls] = signature
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError as exc:
        raise FactError(f"fact {fact_cls.name()}: {exc}") from exc
    bound.apply_defaults()
    params = list(signature.parameters.values())
    out: dict[str, Any] = {}
    for index, (name, value) in enumerate(bound.arguments.items()):
        if index == 0:
            continue  # self
        kind = params[index].kind if index < len(params) else None
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            out[name] = tuple(value)
        else:
            out[name] = os.fspath(value) if isinstance(value, os.PathLike) else value
    return out


def cache_key(fact_cls: type[Any], kwargs: dict[str, Any], connector: dict[str, Any]) -> FactKey:
    conn = {k: v for k, v in connector.items() if k not in NOT_IN_KEY}
    return (fact_cls, freeze(kwargs), freeze(conn))


# Printed instead of the fact's output when its ``requires_command`` is missing.
MISSING_COMMAND_MARKER = "__pyinfra_missing_command_9f1c2e__"


def required_command(fact: FactBase[Any], fact_kwargs: dict[str, Any]) -> str | None:
    """The program a fact needs: ``requires_command`` as a string, or a method taking
    the fact's arguments (pyinfra 3.x's form)."""
    required = getattr(fact, "requires_command", None)
    if callable(required):
        required = required(**fact_kwargs)
    return str(required) if required else None


def fact_command(fact: FactBase[Any], fact_kwargs: dict[str, Any]) -> StringCommand:
    """The fact's command, guarded by its required program in the same round trip."""
    command = fact.command(**fact_kwargs)
    if not isinstance(command, StringCommand):
        command = StringCommand(command)
    required = required_command(fact, fact_kwargs)
    if not required:
        return command
    # The command's own arguments (``_stdin`` with a secret...) stay with it.
    return StringCommand(
        "if", "command", "-v", QuoteString(required), ">/dev/null", "2>&1;",
        "then", "(", command, ");",
        "else", "echo", MISSING_COMMAND_MARKER, ";", "fi",
        **command.connector_arguments,
    )  # fmt: skip


_SECRET_ARGUMENT = re.compile(r"password|secret|token", re.IGNORECASE)


def describe_fact(fact_cls: type[Any], kwargs: dict[str, Any]) -> str:
    """``module.Fact(key=value, ...)`` for messages; secret arguments shown as ``***``."""
    args = ", ".join(
        f"{k}={'***' if _SECRET_ARGUMENT.search(k) else repr(v)}"
        for k, v in kwargs.items()
        if v is not None
    )
    return f"{fact_cls.name()}({args})"


# Statistics: how many times each fact class ran on each host (for -vv and tests).
_stats_lock = threading.Lock()
_fetch_counts: weakref.WeakKeyDictionary[Host, dict[str, int]] = weakref.WeakKeyDictionary()


def count_fetch(host: Host, fact_cls: type[Any]) -> None:
    with _stats_lock:
        counts = _fetch_counts.setdefault(host, {})
        counts[fact_cls.name()] = counts.get(fact_cls.name(), 0) + 1


def fact_fetch_counts(host: Host) -> dict[str, int]:
    """How many times each fact class was fetched (not read from cache) on ``host``."""
    with _stats_lock:
        return dict(_fetch_counts.get(host, {}))


def parse_fact_output(
    host: Host, fact: FactBase[Any], fact_kwargs: dict[str, Any], lines: list[str]
) -> Any:
    """The fact's value from its stdout lines: ``default()`` when its program is missing
    or it printed nothing, else ``process(lines)`` (parse errors: FactProcessError)."""
    if lines == [MISSING_COMMAND_MARKER]:
        logger.debug(
            "fact %s on %s: %s",
            type(fact).name(),
            host.name,
            MissingCommandError(required_command(fact, fact_kwargs) or "?"),
        )
        return fact.default()
    if not lines:
        return fact.default()
    try:
        return fact.process(lines)
    except FactError:
        raise
    except Exception as exc:  # noqa: BLE001 - parsing errors become FactProcessError
        raise FactProcessError(
            f"could not parse fact {describe_fact(type(fact), fact_kwargs)}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


@dataclass(frozen=True)
class FactQuery:
    """One fact read: the class, its normalized arguments and the connector arguments
    it runs with; ``key`` is its fact-cache key."""

    fact_cls: type[FactBase[Any]]
    fact_kwargs: dict[str, Any] = field(hash=False, compare=False)
    connector_kwargs: dict[str, Any] = field(hash=False, compare=False)
    key: FactKey = field(hash=True)


def make_query(
    fact_cls: type[FactBase[Any]], fact_kwargs: dict[str, Any], connector_kwargs: dict[str, Any]
) -> FactQuery:
    return FactQuery(
        fact_cls, fact_kwargs, connector_kwargs, cache_key(fact_cls, fact_kwargs, connector_kwargs)
    )
