"""Context proxies: ``from pyinfra import host, inventory, state, config`` inside a deploy.

Each deploy runs in a thread per host; the current objects are thread-local, with a
process-wide fallback for code that sets them outside a deploy.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_local = threading.local()
_global: dict[str, Any] = {}


class ContextObject:
    """Forwards attribute access to the current object of one kind."""

    def __init__(self, kind: str) -> None:
        object.__setattr__(self, "_kind", kind)

    def _get(self) -> Any:
        value = getattr(_local, self._kind, None)
        if value is None:
            value = _global.get(self._kind)
        if value is None:
            raise AttributeError(
                f"pyinfra.{self._kind} is only available inside a deploy or after it has been set"
            )
        return value

    def __getattr__(self, key: str) -> Any:
        return getattr(self._get(), key)

    def __setattr__(self, key: str, value: Any) -> None:
        setattr(self._get(), key, value)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __bool__(self) -> bool:
        return (getattr(_local, self._kind, None) or _global.get(self._kind)) is not None

    def __eq__(self, other: object) -> bool:
        return bool(self._get() == other)

    def __hash__(self) -> int:
        return hash(self._get())

    def __repr__(self) -> str:
        value = getattr(_local, self._kind, None) or _global.get(self._kind)
        return f"<context {self._kind}: {value!r}>"

    def __str__(self) -> str:
        return str(self._get())


host: Any = ContextObject("host")
state: Any = ContextObject("state")
inventory: Any = ContextObject("inventory")
config: Any = ContextObject("config")


def get(kind: str) -> Any:
    value = getattr(_local, kind, None)
    return value if value is not None else _global.get(kind)


def set_global(kind: str, value: Any) -> None:
    _global[kind] = value


@contextlib.contextmanager
def use(**values: Any) -> Iterator[None]:
    """Set the current host/state/inventory/config for this thread inside the block."""
    previous = {k: getattr(_local, k, None) for k in values}
    for key, value in values.items():
        setattr(_local, key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            setattr(_local, key, value)


class ContextManager:
    """pyinfra 3.x's ``ctx_host``/``ctx_state``/``ctx_inventory``/``ctx_config``: set,
    read and temporarily replace the current object of one kind.

    ``set`` on host/config is per thread (each host runs in its own thread); on
    state/inventory it is process-wide. ``use`` is always per thread.
    """

    def __init__(self, kind: str, per_thread: bool) -> None:
        self.kind = kind
        self.per_thread = per_thread
        self.context = {"host": host, "state": state, "inventory": inventory, "config": config}[
            kind
        ]
        self.base: Any = None

    def get(self) -> Any:
        return get(self.kind)

    def set(self, module: Any) -> None:
        if self.per_thread:
            setattr(_local, self.kind, module)
        else:
            set_global(self.kind, module)

    def reset(self) -> None:
        setattr(_local, self.kind, None)
        if not self.per_thread:
            _global.pop(self.kind, None)

    def isset(self) -> bool:
        return self.get() is not None

    def set_base(self, module: Any) -> None:
        self.base = module

    @contextlib.contextmanager
    def use(self, module: Any) -> Iterator[None]:
        with use(**{self.kind: module}):
            yield


ctx_host = ContextManager("host", per_thread=True)
ctx_state = ContextManager("state", per_thread=False)
ctx_inventory = ContextManager("inventory", per_thread=False)
ctx_config = ContextManager("config", per_thread=True)
