"""Small helpers of the public API."""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def get_file_io(filename_or_io: str | IO[Any], mode: str = "rb") -> Iterator[IO[Any]]:
    """Yield a file object for a path (opened and closed here) or an IO object.

    An IO object is rewound to its start when it can be, and left open. A text IO
    read in binary mode is encoded as UTF-8.
    """
    if isinstance(filename_or_io, (str, bytes)) or hasattr(filename_or_io, "__fspath__"):
        with open(filename_or_io, mode) as handle:
            yield handle
        return
    fileobj = filename_or_io
    if not hasattr(fileobj, "read") and not hasattr(fileobj, "write"):
        raise TypeError(f"expected a file name or a file-like object, got {fileobj!r}")
    if hasattr(fileobj, "seek") and "r" in mode:
        try:
            fileobj.seek(0)
        except (OSError, ValueError):
            pass
    if "b" in mode and "r" in mode and isinstance(fileobj, io.TextIOBase):
        yield io.BytesIO(fileobj.read().encode())
        return
    yield fileobj


def memoize(func: F) -> F:
    """Cache a function's result per arguments (thread-safe; arguments must hash)."""
    cache: dict[Any, Any] = {}
    lock = threading.Lock()

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = (args, tuple(sorted(kwargs.items())))
        with lock:
            if key in cache:
                return cache[key]
        value = func(*args, **kwargs)
        with lock:
            cache.setdefault(key, value)
        return cache[key]

    wrapper.cache = cache  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
