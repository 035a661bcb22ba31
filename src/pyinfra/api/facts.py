"""Facts: read-only information gathered from a host, parsed and cached per run.

A fact class gives ``command()`` (a shell command, possibly using its arguments) and
``process(output_lines)``. ``host.get_fact(Fact, *args)`` runs it once per host and
argument set; operations that change the thing a fact describes invalidate it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pyinfra.api.arguments import ARGUMENT_META
from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import FactError

if TYPE_CHECKING:
    from pyinfra.api.host import Host

T = TypeVar("T")
logger = logging.getLogger("pyinfra")
_FACT_ARGUMENT_KEYS = set(ARGUMENT_META) | {"_ignore_errors"}


class FactBase(Generic[T]):
    """Base class of facts. Override ``command`` and ``process`` (and ``default``)."""

    abstract: bool = True
    shell_executable: str | None = None
    requires_command: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
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


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set)):
        return tuple(_freeze(v) for v in value)
    return value


def get_host_fact(host: Host, fact_cls: Any, *args: Any, **kwargs: Any) -> Any:
    """Run (or read from the per-host cache) one fact."""
    if isinstance(fact_cls, type) and issubclass(fact_cls, ShortFactBase):
        short = fact_cls()
        return short.process_data(get_host_fact(host, fact_cls.fact, *args, **kwargs))
    if not (isinstance(fact_cls, type) and issubclass(fact_cls, FactBase)):
        raise FactError(f"{fact_cls!r} is not a fact class (subclass of FactBase)")

    connector_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _FACT_ARGUMENT_KEYS}
    ignore_errors = bool(connector_kwargs.pop("_ignore_errors", False))
    key = (fact_cls, _freeze(args), _freeze(kwargs), _freeze(connector_kwargs))
    with host._fact_lock:
        if key in host._fact_cache:
            return host._fact_cache[key]

    fact = fact_cls()
    if fact_cls.requires_command:
        ok, _ = host.run_shell_command(
            StringCommand("command", "-v", fact_cls.requires_command, ">/dev/null"),
            **connector_kwargs,
        )
        if not ok:
            value = fact.default()
            with host._fact_lock:
                host._fact_cache[key] = value
            return value

    command = fact.command(*args, **kwargs)
    if fact_cls.shell_executable and "_shell_executable" not in connector_kwargs:
        connector_kwargs["_shell_executable"] = fact_cls.shell_executable
    ok, output = host.run_shell_command(command, **connector_kwargs)
    if not ok:
        if ignore_errors:
            return fact.default()
        detail = output.stderr.strip().splitlines()
        raise FactError(
            f"{host.name}: fact {fact_cls.name()} failed"
            + (f": {detail[-1]}" if detail else f" (exit status {output.exit_code})")
        )
    try:
        value = fact.process(output.stdout_lines)
    except Exception as exc:  # noqa: BLE001 - parsing errors become FactError
        raise FactError(f"{host.name}: could not parse fact {fact_cls.name()}: {exc}") from exc
    with host._fact_lock:
        host._fact_cache[key] = value
    return value


def get_fact(state: Any, host: Host, fact_cls: Any, *args: Any, **kwargs: Any) -> Any:
    """pyinfra 3.x style ``get_fact(state, host, Fact, ...)``."""
    return get_host_fact(host, fact_cls, *args, **kwargs)
