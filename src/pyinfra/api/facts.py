"""Facts: read-only information gathered from a host, parsed and cached for the run.

A fact class gives ``command(...)`` (one shell command, built from its arguments) and
``process(output_lines)``. ``host.get_fact(Fact, *args)`` runs it once per host and
argument set; the value is cached until something invalidates it:

* an operation that declares what it changed (by yielding a :class:`FactChange` after
  its commands) drops only the facts about those paths / those fact classes;
* an operation that runs commands without declaring anything (``server.shell``, user
  operations) drops every fact that is not ``stable`` (OS, architecture... stay);
* in a dry run nothing is dropped: declared expectations replace cached values, so
  later operations of the same dry run reason on the predicted state.
"""

from __future__ import annotations

import logging
import posixpath
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pyinfra.api.arguments import (
    ARGUMENT_META,
    ESCALATION_ARGUMENT_KEYS,
    SECRET_ARGUMENT_KEYS,
    SHELL_ARGUMENT_KEYS,
)
from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import (
    FactError,
    FactPreconditionError,
    PyinfraError,
)
from pyinfra.api.factbatch import batchable, read_batch, remember
from pyinfra.api.factcache import FactEntry
from pyinfra.api.factrun import (
    cache_key,
    count_fetch,
    describe_fact,
    fact_command,
    fact_fetch_counts,
    freeze,
    make_query,
    normalize_fact_arguments,
    parse_fact_output,
)
from pyinfra.api.parallel import run_on_hosts

if TYPE_CHECKING:
    from pyinfra.api.host import Host

T = TypeVar("T")
logger = logging.getLogger("pyinfra")

_FACT_ARGUMENT_KEYS = set(ARGUMENT_META) | {"_ignore_errors"}
# Operation arguments a fact read inside that operation inherits (privilege, shell, env).
INHERITED_FACT_ARGUMENTS = (*ESCALATION_ARGUMENT_KEYS, *SHELL_ARGUMENT_KEYS, "_timeout")
# Arguments that change how a fact runs but not what it returns: not part of the cache key.
_NOT_IN_KEY = {"_timeout", *SECRET_ARGUMENT_KEYS}


class FactBase(Generic[T]):
    """Base class of facts. Override ``command`` and ``process`` (and ``default``).

    Class attributes: ``stable`` (True: commands of the run never change it, e.g. the
    CPU architecture), ``covers_subtree`` (True: the fact describes everything under its
    ``path`` argument, so a change anywhere below that path invalidates it),
    ``requires_command`` (a program name, or a method taking the fact's arguments and
    returning one: when that program is missing the fact returns ``default()``).
    Optionally ``check_preconditions(state, host)`` returns a reason not to run it.
    A command that succeeds without printing anything gives ``default()`` too.
    """

    abstract: bool = True
    shell_executable: str | None = None
    requires_command: Any = None
    stable: bool = False
    covers_subtree: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "abstract" not in cls.__dict__:
            cls.abstract = False

    @staticmethod
    def default() -> Any:
        return None

    def command(self, *args: Any, **kwargs: Any) -> str | StringCommand:
        raise NotImplementedError

    def process(self, output: list[str]) -> T:
        return "\n".join(output)  # type: ignore[return-value]

    @classmethod
    def name(cls) -> str:
        module = cls.__module__.replace("pyinfra.facts.", "")
        return f"{module}.{cls.__name__}"


class ShortFactBase(Generic[T]):
    """A fact derived from another fact's value: set ``fact`` and ``process_data``."""

    fact: type[FactBase[Any]]

    def process_data(self, data: Any) -> T:
        return data  # type: ignore[no-any-return]

    @classmethod
    def name(cls) -> str:
        module = cls.__module__.replace("pyinfra.facts.", "")
        return f"{module}.{cls.__name__}"


_UNSET: Any = object()


@dataclass(frozen=True)
class FactChange:
    """Yielded by an operation after its commands: what those commands changed.

    ``paths``: facts whose ``path`` argument is one of these (or lies under one, when
    ``recursive``), and subtree facts (``FindFiles``) above them, are dropped.
    ``facts``: fact classes dropped whatever their arguments (``server.Users``).
    ``expect``: ``(FactClass, kwargs, value)`` predictions: in a dry run they replace
    the cached value so later operations see the state this one would have made.
    ``known``: ``(FactClass, kwargs, value)`` values the commands certainly produced
    (a package list after an install): stored in the cache in real and dry runs alike,
    so the next operation needs no new read.
    """

    paths: tuple[str, ...] = ()
    recursive: bool = False
    facts: tuple[type[Any], ...] = ()
    expect: tuple[tuple[type[Any], dict[str, Any], Any], ...] = ()
    known: tuple[tuple[type[Any], dict[str, Any], Any], ...] = ()


# Facts read inside an operation inherit some of its arguments (per thread).
_op_args = threading.local()


@contextmanager
def inherit_fact_arguments(arguments: dict[str, Any]) -> Iterator[None]:
    """Facts read inside the block run with these (privilege/shell) arguments."""
    previous = getattr(_op_args, "value", None)
    _op_args.value = {k: v for k, v in arguments.items() if k in INHERITED_FACT_ARGUMENTS}
    try:
        yield
    finally:
        _op_args.value = previous


def inherited_arguments() -> dict[str, Any]:
    """The privilege/shell arguments of the operation running in this thread (what
    its facts run with); ``{}`` outside an operation."""
    return dict(getattr(_op_args, "value", None) or {})


def _connector_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    explicit = {k: kwargs.pop(k) for k in list(kwargs) if k in _FACT_ARGUMENT_KEYS}
    inherited: dict[str, Any] = dict(getattr(_op_args, "value", None) or {})
    inherited.update(explicit)
    return inherited


def get_host_fact(host: Host, fact_cls: Any, *args: Any, **kwargs: Any) -> Any:
    """Run (or read from the per-host cache) one fact; a miss also re-reads, in the same
    command, the host's other wanted facts that the cache lacks (see factbatch)."""
    if isinstance(fact_cls, type) and issubclass(fact_cls, ShortFactBase):
        short = fact_cls()
        return short.process_data(get_host_fact(host, fact_cls.fact, *args, **kwargs))
    if not (isinstance(fact_cls, type) and issubclass(fact_cls, FactBase)):
        raise FactError(f"{fact_cls!r} is not a fact class (subclass of FactBase)")

    connector_kwargs = _connector_kwargs(kwargs)
    ignore_errors = bool(connector_kwargs.pop("_ignore_errors", False))
    fact_kwargs = normalize_fact_arguments(fact_cls, args, kwargs)
    query = make_query(fact_cls, fact_kwargs, connector_kwargs)
    host.fact_queries.add(query)  # asked for in this run: the next run prefetches it
    entry = host.fact_cache.get(query.key)
    if entry is not None:
        return entry.value

    if batchable(query) and _batching(host, connector_kwargs):
        state = host.state
        if state is not None and state.config.FACT_PREFETCH and not host.fact_queries.remembered:
            remember(state, [host])
        batch = host.fact_queries.ahead(host, query)
        # With commands queued on the host, they and the read share one command.
        if len(batch) > 1 or host.command_queue:
            values = read_batch(host, batch)
            for item in batch:
                if item.key in values:
                    host.fact_cache.put(item.key, values[item.key], item.fact_kwargs)
            if query.key in values:
                return values[query.key]
    host.command_queue.settle_or_raise()  # the commands so far run before the host is read
    value = _fetch(host, fact_cls, fact_kwargs, connector_kwargs, ignore_errors)
    host.fact_cache.put(query.key, value, fact_kwargs)
    return value


def read_together(host: Host, *wanted: tuple[type[FactBase[Any]], dict[str, Any]]) -> None:
    """Read the facts an operation is about to ask for in one command (those the cache
    lacks), where the host batches fact reads; each later ``get_fact`` of them is then
    a cache hit. Nothing is read otherwise, and a fact that fails here is simply read
    again, alone, when it is asked for (so its error is reported as usual)."""
    connector_kwargs = _connector_kwargs({})
    queries = []
    for fact_cls, kwargs in wanted:
        query = make_query(
            fact_cls, normalize_fact_arguments(fact_cls, (), dict(kwargs)), connector_kwargs
        )
        if host.fact_cache.get(query.key) is None and batchable(query):
            queries.append(query)
    if len(queries) < 2 or not _batching(host, connector_kwargs):
        return
    for query in queries:
        host.fact_queries.add(query)  # remembered for the next run's prefetch
    values = read_batch(host, queries)
    for query in queries:
        if query.key in values:
            host.fact_cache.put(query.key, values[query.key], query.fact_kwargs)


def _batching(host: Host, connector_kwargs: dict[str, Any]) -> bool:
    state = host.state
    if state is not None and not getattr(state.config, "FACT_BATCH", True):
        return False
    return host.can_batch_shell_commands(connector_kwargs)


# sudo/su saying the user to switch to does not exist (yet): the fact's default, no error.
_NO_SUCH_USER = re.compile(
    r"^(sudo: unknown user|su: user \S+ does not exist|No passwd entry for user)"
)


def _fetch(
    host: Host,
    fact_cls: type[FactBase[Any]],
    fact_kwargs: dict[str, Any],
    connector_kwargs: dict[str, Any],
    ignore_errors: bool,
) -> Any:
    fact = fact_cls()
    state = host.state
    print_input = bool(state is not None and state.print_input)
    count_fetch(host, fact_cls)
    check = getattr(fact, "check_preconditions", None)
    if callable(check):
        reason = check(state, host)
        if reason:
            if state is not None and state.dry:
                return fact.default()
            raise FactPreconditionError(fact_cls, str(reason))

    command = fact_command(fact, fact_kwargs)
    if command.connector_arguments:  # e.g. ``_stdin``: the fact's secret input
        connector_kwargs = {**connector_kwargs, **command.connector_arguments}
    if fact_cls.shell_executable and "_shell_executable" not in connector_kwargs:
        connector_kwargs = {**connector_kwargs, "_shell_executable": fact_cls.shell_executable}
    ok, output = host.run_shell_command(command, print_input=print_input, **connector_kwargs)
    if not ok:
        stderr = [line for line in output.stderr.strip().splitlines() if line.strip()]
        switching = connector_kwargs.get("_sudo_user") or connector_kwargs.get("_su_user")
        if ignore_errors or (switching and stderr and _NO_SUCH_USER.match(stderr[0])):
            return fact.default()
        raise FactError(
            f"fact {describe_fact(fact_cls, fact_kwargs)} failed: {output.failure_line()}"
        )
    return parse_fact_output(host, fact, fact_kwargs, output.stdout_lines)


# Invalidation -------------------------------------------------------------------


def _norm(path: str) -> str:
    normalized = posixpath.normpath(path)
    return "/" if normalized == "//" else normalized


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _affected(fact_cls: type[Any], kwargs: dict[str, Any], change: FactChange) -> bool:
    if any(fact_cls is cls for cls in change.facts):
        return True
    fact_path = kwargs.get("path")
    if not isinstance(fact_path, str) or not change.paths:
        return False
    fact_path = _norm(fact_path)
    for changed in change.paths:
        changed = _norm(changed)
        if fact_path == changed:
            return True
        if change.recursive and _under(fact_path, changed):
            return True
        if getattr(fact_cls, "covers_subtree", False) and _under(changed, fact_path):
            return True
    return False


def apply_fact_change(host: Host, change: FactChange, dry: bool) -> None:
    """Drop (real run) or overwrite with predictions (dry run) the facts ``change`` touches."""
    if dry:
        for fact_cls, kwargs, value in change.expect:
            set_fact(host, fact_cls, value, True, **kwargs)
    else:
        host.fact_cache.drop(lambda key, entry: _affected(key[0], entry.kwargs, change))
    for fact_cls, kwargs, value in change.known:
        set_fact(host, fact_cls, value, dry, **kwargs)


def invalidate_volatile_facts(host: Host) -> None:
    """Drop every cached fact that is not ``stable`` (after commands with unknown effects)."""
    host.fact_cache.drop(lambda key, entry: not getattr(key[0], "stable", False))


def set_fact(
    host: Host, fact_cls: type[Any], value: Any, predicted: bool = False, **kwargs: Any
) -> None:
    """Store a value for a fact (a prediction, in a dry run), for every argument set it
    was read with."""
    connector_kwargs = _connector_kwargs(kwargs)
    connector_kwargs.pop("_ignore_errors", None)
    fact_kwargs = normalize_fact_arguments(fact_cls, (), kwargs)
    frozen = freeze(fact_kwargs)
    host.fact_cache.replace(
        lambda key: key[0] is fact_cls and key[1] == frozen,
        cache_key(fact_cls, fact_kwargs, connector_kwargs),
        FactEntry(value, fact_kwargs, predicted),
    )


def get_fact(
    state: Any,
    host: Host,
    cls: Any,
    args: Any | None = None,
    kwargs: Any | None = None,
    ensure_hosts: Any | None = None,
    apply_failed_hosts: bool = True,
) -> Any:
    """pyinfra 3.x's ``get_fact(state, host, Fact, args=[...], kwargs={...})``."""
    return get_host_fact(host, cls, *(args or ()), **(kwargs or {}))


def get_facts(
    state: Any, cls: Any, args: Any | None = None, kwargs: Any | None = None, **extra: Any
) -> dict[Host, Any]:
    """One fact on every active host of ``state``, read in parallel: ``{host: value}``.

    A host whose read fails is left out and marked failed (the others go on)."""
    hosts = state.inventory.get_active_hosts() if state.inventory is not None else []
    read = run_on_hosts(state, hosts, lambda host: get_fact(state, host, cls, args, kwargs))
    values: dict[Host, Any] = {}
    for host, value in read.items():
        if isinstance(value, BaseException):
            state.fail_hosts({host}, error=f"{host.name}: {value}")
            if not isinstance(value, PyinfraError):
                raise value
        else:
            values[host] = value
    return values


__all__ = [
    "FactBase",
    "ShortFactBase",
    "FactChange",
    "get_fact",
    "get_facts",
    "get_host_fact",
    "set_fact",
    "apply_fact_change",
    "invalidate_volatile_facts",
    "fact_fetch_counts",
    "inherit_fact_arguments",
    "normalize_fact_arguments",
]
