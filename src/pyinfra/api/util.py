"""Small helpers of the public API (the names pyinfra 3.x's ``pyinfra.api.util`` has)."""

from __future__ import annotations

import functools
import hashlib
import inspect
import io
import os
import stat as stat_module
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, TypeVar

from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.typecheck import check_value, describe_type

if TYPE_CHECKING:
    import jinja2

    from pyinfra.api.state import State

F = TypeVar("F", bound=Callable[..., Any])
_CHUNK = 1024 * 1024


class get_file_io:  # noqa: N801 - pyinfra's name: used as ``with get_file_io(x) as f``
    """A file object for a path (opened here, closed on exit) or an IO object (rewound,
    left open). ``mode`` ``"rb"`` gives bytes, ``"r"`` text, whatever the IO holds."""

    def __init__(self, filename_or_io: str | os.PathLike[str] | IO[Any], mode: str = "rb") -> None:
        is_path = isinstance(filename_or_io, (str, bytes)) or hasattr(filename_or_io, "__fspath__")
        if not is_path and not hasattr(filename_or_io, "read") and "w" not in mode:
            raise TypeError(f"expected a file name or a file-like object, got {filename_or_io!r}")
        self.filename_or_io = filename_or_io
        self.mode = mode
        self._opened: IO[Any] | None = None

    @property
    def cache_key(self) -> str | None:
        """The path (files are cached by name; in-memory objects are not cached)."""
        source = self.filename_or_io
        if isinstance(source, str) or hasattr(source, "__fspath__"):
            return os.fspath(source)
        return None

    def __enter__(self) -> IO[Any]:
        source = self.filename_or_io
        if self.cache_key is not None or isinstance(source, bytes):
            self._opened = open(source, self.mode)  # type: ignore[arg-type]  # noqa: SIM115
            return self._opened
        fileobj: IO[Any] = source  # type: ignore[assignment]
        if "r" in self.mode and hasattr(fileobj, "seek"):
            try:
                fileobj.seek(0)
            except (OSError, ValueError):
                pass
        wants_bytes = "b" in self.mode
        if "r" in self.mode and wants_bytes and isinstance(fileobj, io.TextIOBase):
            return io.BytesIO(fileobj.read().encode())
        if "r" in self.mode and not wants_bytes and not isinstance(fileobj, io.TextIOBase):
            data = fileobj.read()
            if isinstance(data, bytes):
                return io.StringIO(data.decode())
            return io.StringIO(data)
        return fileobj

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._opened is not None:
            self._opened.close()
            self._opened = None


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


# Hashes ---------------------------------------------------------------------------


def sha1_hash(string: str) -> str:
    """SHA-1 hex digest of a string (UTF-8)."""
    return hashlib.sha1(string.encode("utf-8")).hexdigest()


def _hash_text(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return "".join(f"{key}{make_hash(value)}" for key, value in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return "".join(make_hash(item) for item in obj)
    if obj is None or isinstance(obj, bool):
        return "_PYINFRA_CONSTANT"  # may differ per host: the same operation still
    if isinstance(obj, (int, str)):
        return str(obj)
    name = getattr(obj, "__name__", None) or getattr(obj, "name", None)
    return str(name) if name is not None else repr(obj)


def make_hash(obj: Any) -> str:
    """A stable SHA-1 of nested lists/tuples/sets/dicts/values (operation identities)."""
    return sha1_hash(_hash_text(obj))


_FILE_DIGESTS: dict[tuple[str, str, float, int], str] = {}
_DIGEST_LOCK = threading.Lock()


def _file_digest(filename_or_io: str | IO[Any], algorithm: str) -> str:
    source = get_file_io(filename_or_io)
    key: tuple[str, str, float, int] | None = None
    if source.cache_key is not None:
        info = os.stat(source.cache_key)
        key = (source.cache_key, algorithm, info.st_mtime, info.st_size)
        with _DIGEST_LOCK:
            if key in _FILE_DIGESTS:
                return _FILE_DIGESTS[key]
    hasher = hashlib.new(algorithm)
    with source as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk.encode() if isinstance(chunk, str) else chunk)
    digest = hasher.hexdigest()
    if key is not None:
        with _DIGEST_LOCK:
            _FILE_DIGESTS[key] = digest
    return digest


def get_file_md5(filename_or_io: str | IO[Any]) -> str:
    return _file_digest(filename_or_io, "md5")


def get_file_sha1(filename_or_io: str | IO[Any]) -> str:
    return _file_digest(filename_or_io, "sha1")


def get_file_sha256(filename_or_io: str | IO[Any]) -> str:
    return _file_digest(filename_or_io, "sha256")


# Call sites and text --------------------------------------------------------------


def get_caller_frameinfo(frame_offset: int = 0) -> inspect.Traceback:
    """The frame info of the caller of the function calling this one (plus offset)."""
    frame = inspect.currentframe()
    for _ in range(2 + frame_offset):
        if frame is None or frame.f_back is None:
            break
        frame = frame.f_back
    if frame is None:
        raise PyinfraError("no caller frame")
    return inspect.getframeinfo(frame)


def get_call_location(frame_offset: int = 1) -> str:
    """``line N in path`` of the code that called the caller."""
    info = get_caller_frameinfo(frame_offset=frame_offset)
    try:
        path = os.path.relpath(info.filename)
    except ValueError:
        path = info.filename
    return f"line {info.lineno} in {path}"


def get_kwargs_str(kwargs: Mapping[str, Any]) -> str:
    """``a=1, b=2`` (sorted; ``self``/``state``/``host`` left out)."""
    return ", ".join(
        f"{key}={value}"
        for key, value in sorted(kwargs.items())
        if key not in ("self", "state", "host")
    )


def try_int(value: Any) -> Any:
    """``int(value)`` when it converts, else ``value`` unchanged."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def format_exception(exc: BaseException) -> str:
    return f"{type(exc).__name__}{exc.args}"


def get_file_path(state: State, filename: str) -> str:
    """A local file named in a deploy: absolute as given, else relative to ``state.cwd``
    (``./x`` relative to the deploy file being run)."""
    if os.path.isabs(filename):
        return filename
    base = state.cwd or os.getcwd()
    current = getattr(state, "current_exec_filename", None)
    if current and filename.startswith("./"):
        base = os.path.dirname(current)
    return os.path.join(base, filename)


def get_path_permissions_mode(pathname: str) -> int:
    """The permission bits of a local path as decimal digits of the octal mode (644)."""
    return int(oct(stat_module.S_IMODE(os.stat(pathname).st_mode))[2:])


def get_template(
    filename_or_io: str | IO[Any], jinja_env_kwargs: dict[str, Any] | None = None
) -> jinja2.Template:
    """A jinja2 template (strict undefined, trailing newline kept) from a file or IO;
    ``jinja_env_kwargs`` go to the ``Environment`` (a ``loader`` defaults to the cwd)."""
    import jinja2  # only deploys that render templates need it

    with get_file_io(filename_or_io, mode="r") as handle:
        source = handle.read()
    options: dict[str, Any] = {
        "undefined": jinja2.StrictUndefined,
        "keep_trailing_newline": True,
        "loader": jinja2.FileSystemLoader(os.getcwd()),
        **(jinja_env_kwargs or {}),
    }
    environment = jinja2.Environment(**options)  # noqa: S701 - config files, not HTML
    return environment.from_string(source)


def raise_if_bad_type(
    value: Any, type_: Any, exception: type[Exception], message_prefix: str
) -> None:
    """Raise ``exception`` (prefixed message) unless ``value`` matches ``type_``."""
    if not check_value(value, type_):
        raise exception(
            f"{message_prefix}: expected {describe_type(type_)}, got {type(value).__name__}"
        )
