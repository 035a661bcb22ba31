"""The old name of :mod:`pyinfra.operations.postgres` (kept by pyinfra as a deprecated
alias): the same operations with the same arguments."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.operation import operation
from pyinfra.operations import postgres


@operation(is_idempotent=False)
def sql(*args: Any, **kwargs: Any) -> Generator[Any, Any, None]:
    """Deprecated alias of :func:`pyinfra.operations.postgres.sql`."""
    yield from postgres.sql._inner(*args, **kwargs)


@operation()
def role(*args: Any, **kwargs: Any) -> Generator[Any, Any, None]:
    """Deprecated alias of :func:`pyinfra.operations.postgres.role`."""
    yield from postgres.role._inner(*args, **kwargs)


@operation()
def database(*args: Any, **kwargs: Any) -> Generator[Any, Any, None]:
    """Deprecated alias of :func:`pyinfra.operations.postgres.database`."""
    yield from postgres.database._inner(*args, **kwargs)


@operation(is_idempotent=False)
def dump(*args: Any, **kwargs: Any) -> Generator[Any, Any, None]:
    """Deprecated alias of :func:`pyinfra.operations.postgres.dump`."""
    yield from postgres.dump._inner(*args, **kwargs)


@operation(is_idempotent=False)
def load(*args: Any, **kwargs: Any) -> Generator[Any, Any, None]:
    """Deprecated alias of :func:`pyinfra.operations.postgres.load`."""
    yield from postgres.load._inner(*args, **kwargs)
