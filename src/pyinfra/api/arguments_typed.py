"""The type of an operation as callers see it (pyinfra 3.x's ``PyinfraOperation``):
called with the operation's own arguments plus any global arguments (``_sudo``,
``name``...), it returns an :class:`~pyinfra.api.results.OperationMeta`; ``_inner`` is
the generator function with its exact signature.

Python's typing cannot add keyword arguments to a ``ParamSpec``; rather than putting
the global arguments before the operation's own (pyinfra 3.x's way, which makes type
checkers reject positional calls that work), the call accepts any arguments: the
operation checks them, with one clear error line, when it is called.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Generic, Protocol

from typing_extensions import ParamSpec

if TYPE_CHECKING:
    from pyinfra.api.results import OperationMeta

P = ParamSpec("P")


class PyinfraOperation(Generic[P], Protocol):
    """An ``@operation``: call it with its arguments and any global arguments."""

    _inner: Callable[P, Generator[Any, Any, Any]]

    def __call__(self, *args: Any, **kwargs: Any) -> OperationMeta: ...
