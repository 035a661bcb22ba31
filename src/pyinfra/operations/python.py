"""Run Python code as a step of a deploy, on the controller, once per host."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Generator
from typing import Any

from pyinfra.api.command import FunctionCommand
from pyinfra.api.exceptions import OperationError, PyinfraError
from pyinfra.api.operation import operation

Commands = Generator[Any, Any, None]


def _where(exc: BaseException) -> str:
    """``file.py, line N`` of the innermost frame of the exception (the user's code)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    if not frames:
        return ""
    last = frames[-1]
    return f" ({last.filename}, line {last.lineno})"


def _reported(
    function: Callable[..., Any], name: str, prefix: str = "raised "
) -> Callable[..., Any]:
    """``function`` (shown as ``python NAME()``) whose ``False`` result or exception
    fails the operation with one line (saying where the exception was raised)."""

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            result = function(*args, **kwargs)
        except PyinfraError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's code: report, don't crash
            raise OperationError(f"{prefix}{type(exc).__name__}: {exc}{_where(exc)}") from exc
        if result is False:
            raise OperationError("returned False")
        return result

    run.__name__ = name
    return run


@operation(is_idempotent=False)
def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Commands:
    """Call ``function(*args, **kwargs)`` when the deploy reaches this step on a host
    (not in a dry run). Inside it, ``pyinfra.host`` is that host and operations called
    run at once on it; a raised exception or a ``False`` result fails the operation."""
    if not callable(function):
        raise OperationError(f"python.call: argument function must be callable, got {function!r}")
    name = getattr(function, "__name__", type(function).__name__)
    yield FunctionCommand(_reported(function, name), args, kwargs)


@operation(is_idempotent=False)
def raise_exception(exception: type[Exception], *args: Any, **kwargs: Any) -> Commands:
    """Raise ``exception(*args, **kwargs)`` when the deploy reaches this step (fails the
    operation on that host with the exception's message)."""
    if not (isinstance(exception, type) and issubclass(exception, BaseException)):
        raise OperationError(
            f"python.raise_exception: argument exception must be an exception class, "
            f"got {exception!r}"
        )

    def raise_it(*inner_args: Any, **inner_kwargs: Any) -> None:
        raise exception(*inner_args, **inner_kwargs)

    yield FunctionCommand(_reported(raise_it, "raise_exception", prefix=""), args, kwargs)
