"""The ``@operation`` and ``@deploy`` decorators and the results of operations.

Operations are generator functions that yield commands (``str``/``StringCommand``,
``FileUploadCommand``, ``FileDownloadCommand``, ``FunctionCommand``) after reading
facts to find out what has to change. Called inside a deploy, an operation runs at
once on the current host (each host runs its deploy in its own thread) and returns an
:class:`OperationMeta` that later code can inspect (``changed``, ``did_succeed()``,
``stdout``...). How and when it executes is in :mod:`pyinfra.api.opexec`.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import sysconfig
import threading
import weakref
from collections.abc import Callable, Generator, Hashable, Iterable
from dataclasses import dataclass, field
from types import CodeType
from typing import TYPE_CHECKING, Any, TypeVar, overload

import pyinfra
from pyinfra import context
from pyinfra.api.arguments import ARGUMENT_META, check_argument_type
from pyinfra.api.command import MaskString
from pyinfra.api.exceptions import OperationError, PyinfraError
from pyinfra.api.typecheck import check_value, describe_type, resolved_hints
from pyinfra.connectors.output import CommandOutput, OutputLine

if TYPE_CHECKING:
    from pyinfra.api.host import Host

F = TypeVar("F", bound=Callable[..., Any])

# Global arguments every operation accepts besides the connector arguments.
OPERATION_ONLY_ARGUMENTS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "_ignore_errors": (bool,),
    "_continue_on_error": (bool,),
    "_if": (object,),
    "_serial": (bool,),
    "_run_once": (bool,),
    "_parallel": (int,),
}
ALL_GLOBAL_ARGUMENTS = set(ARGUMENT_META) | set(OPERATION_ONLY_ARGUMENTS)


class HostOperationFailed(PyinfraError):
    """An operation failed on the current host: its deploy stops there."""


@dataclass
class CommandResult:
    command: str
    success: bool
    output: CommandOutput
    duration: float
    executed: bool = True


@dataclass
class OperationDiff:
    """Yielded by an operation (when diffs are wanted): how a file's content changes."""

    path: str
    lines: list[str]


@dataclass
class OperationMeta:
    """What one operation did (or, in a dry run, would do) on one host."""

    name: str
    host_name: str
    operation: str = ""
    key: str = ""
    location: str = ""
    changed: bool = False
    success: bool | None = None
    skipped: bool = False
    skip_reason: str | None = None
    dry: bool = False
    error: str | None = None
    commands: list[CommandResult] = field(default_factory=list)
    diffs: list[OperationDiff] = field(default_factory=list)
    duration: float = 0.0
    ignored_error: bool = False
    traceback: str | None = None
    noops: list[str] = field(default_factory=list)  # host.noop() descriptions

    def did_succeed(self) -> bool:
        return bool(self.success)

    def did_error(self) -> bool:
        return self.success is False

    def did_change(self) -> bool:
        return self.changed

    def did_not_change(self) -> bool:
        return not self.changed

    def is_complete(self) -> bool:
        return self.success is not None

    @property
    def will_change(self) -> bool:
        return self.changed

    def _lines(self) -> list[OutputLine]:
        return [line for c in self.commands for line in c.output.combined_lines]

    @property
    def stdout_lines(self) -> list[str]:
        return [line.line for line in self._lines() if line.buffer_name == "stdout"]

    @property
    def stderr_lines(self) -> list[str]:
        return [line.line for line in self._lines() if line.buffer_name == "stderr"]

    @property
    def stdout(self) -> str:
        return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)

    @property
    def status(self) -> str:
        """``Success``, ``No changes``, ``Skipped`` or ``Error`` (for display)."""
        if self.success is False:
            return "Error"
        if self.skipped:
            return "Skipped"
        return "Success" if self.changed else "No changes"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "operation": self.operation,
            "key": self.key,
            "location": self.location,
            "changed": self.changed,
            "success": self.success,
            "skipped": self.skipped,
            "skip_reason": self.skip_reason,
            "dry": self.dry,
            "error": self.error,
            "ignored_error": self.ignored_error,
            "duration": round(self.duration, 4),
            "stdout": self.stdout,
            "stderr": self.stderr,
            "diffs": {d.path: "".join(d.lines) for d in self.diffs},
            "noops": list(self.noops),
            "commands": [
                {
                    "command": c.command,
                    "executed": c.executed,
                    "success": c.success,
                    "exit_code": c.output.exit_code,
                    "stdout": c.output.stdout,
                    "stderr": c.output.stderr,
                    "duration": round(c.duration, 4),
                }
                for c in self.commands
            ],
        }


# Global arguments given to an enclosing @deploy apply to every operation inside it.
_deploy_stack = threading.local()


def _deploy_kwargs() -> dict[str, Any]:
    stack: list[dict[str, Any]] = getattr(_deploy_stack, "stack", [])
    merged: dict[str, Any] = {}
    for kwargs in stack:
        merged.update(kwargs)
    return merged


def push_deploy_kwargs(kwargs: dict[str, Any]) -> None:
    if not hasattr(_deploy_stack, "stack"):
        _deploy_stack.stack = []
    _deploy_stack.stack.append(kwargs)


def pop_deploy_kwargs() -> None:
    _deploy_stack.stack.pop()


# Argument checking --------------------------------------------------------------


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_global_argument(key: str, value: Any, op_label: str) -> None:
    if key in ARGUMENT_META:
        try:
            check_argument_type(key, value)
        except PyinfraError as exc:
            raise OperationError(f"{op_label}: {exc}") from exc
        return
    types = OPERATION_ONLY_ARGUMENTS[key]
    if value is None or types == (object,):
        return
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        raise OperationError(
            f"{op_label}: argument {key} must be {types[0].__name__}, "
            f"got {type(value).__name__} ({_short(value)})"
        )
    if key == "_parallel" and value < 1:
        raise OperationError(f"{op_label}: argument _parallel must be at least 1, got {value}")


def check_operation_arguments(op_func: Callable[..., Any], op_label: str, bound: Any) -> None:
    """Check each bound argument against the operation's annotations (when it has them)."""
    hints = resolved_hints(op_func)
    if not hints:
        return
    for name, value in bound.arguments.items():
        hint = hints.get(name)
        if hint is None or value is None and _default_is_none(op_func, name):
            continue
        if not check_value(value, hint):
            raise OperationError(
                f"{op_label}: argument {name} must be {describe_type(hint)}, "
                f"got {type(value).__name__} ({_short(value)})"
            )


def _default_is_none(op_func: Callable[..., Any], name: str) -> bool:
    param = inspect.signature(op_func).parameters.get(name)
    return param is not None and param.default is None


# Identity of an operation: where it is called from ----------------------------

_PYINFRA_DIR = os.path.dirname(os.path.abspath(pyinfra.__file__)) + os.sep
_SKIPPED_DIRS = (
    _PYINFRA_DIR,
    os.path.join(os.path.dirname(_PYINFRA_DIR.rstrip(os.sep)), "pyinfra_cli") + os.sep,
    sysconfig.get_paths()["stdlib"] + os.sep,
    "<frozen",
)
_STOP_CODES: set[CodeType] = set()


def register_stop_frame(code: CodeType) -> None:
    """Frames of ``code`` end the call-site walk (the deploy runner's entry point)."""
    _STOP_CODES.add(code)


def call_site(depth: int = 2) -> tuple[tuple[str, int], ...]:
    """The user frames (file, line) that lead to the current call, outermost first."""
    frame = sys._getframe(depth)
    site: list[tuple[str, int]] = []
    while frame is not None and len(site) < 64:
        code = frame.f_code
        if code in _STOP_CODES:
            break
        filename = code.co_filename
        if not filename.startswith(_SKIPPED_DIRS):
            site.append((filename, frame.f_lineno))
        frame = frame.f_back  # type: ignore[assignment]
    return tuple(reversed(site))


_fallback_counts: weakref.WeakKeyDictionary[Host, dict[Hashable, int]] = weakref.WeakKeyDictionary()
_fallback_lock = threading.Lock()


def _occurrence(host: Host, site: Hashable) -> int:
    run = context.get("run")
    if run is not None:
        return int(run.occurrence(host, site))
    with _fallback_lock:
        counts = _fallback_counts.setdefault(host, {})
        count = counts.get(site, 0)
        counts[site] = count + 1
        return count


def _key_text(site: tuple[tuple[str, int], ...], op_label: str, occurrence: int) -> str:
    if not site:
        return f"{op_label}#{occurrence}"
    where = " > ".join(f"{os.path.basename(f)}:{line}" for f, line in site)
    return f"{where}#{occurrence}"


# Labels -------------------------------------------------------------------------

_SECRET_WORDS = ("password", "secret", "token")


def operation_label(op_label: str, bound: Any, signature: inspect.Signature) -> str:
    """``files.file (path=/tmp/x, mode=644)``: the operation and its non-default arguments."""
    parts: list[str] = []
    for name, value in bound.arguments.items():
        param = signature.parameters[name]
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        try:
            if param.default is not inspect.Parameter.empty and bool(value == param.default):
                continue
        except Exception:  # noqa: BLE001 - odd __eq__: just show the value
            pass
        if isinstance(value, MaskString) or any(word in name.lower() for word in _SECRET_WORDS):
            shown = "***"
        elif isinstance(value, str):
            shown = value if len(value) <= 50 else value[:47] + "..."
        else:
            shown = _short(value, 50)
        parts.append(f"{name}={shown}")
        if len(parts) == 3:
            break
    return f"{op_label} ({', '.join(parts)})" if parts else op_label


# The decorators -----------------------------------------------------------------


@overload
def operation(func: F) -> F: ...


@overload
def operation(func: None = None, **options: Any) -> Callable[[F], F]: ...


def operation(func: Any = None, **options: Any) -> Any:
    """Decorate a generator function as an operation (``@operation`` or ``@operation()``).

    Options: ``is_idempotent=False`` for operations that always change (``server.shell``).
    """

    def decorator(op_func: F) -> F:
        module = op_func.__module__.replace("pyinfra.operations.", "")
        op_label = f"{module}.{op_func.__name__}"
        signature = inspect.signature(op_func)

        @functools.wraps(op_func)
        def wrapper(*args: Any, **kwargs: Any) -> OperationMeta:
            from pyinfra.api.opexec import execute_operation

            host = kwargs.pop("host", None) or context.get("host")
            state = kwargs.pop("state", None) or context.get("state")
            if host is None:
                raise OperationError(
                    f"operation {op_label} was called outside a deploy: run it with the "
                    "pyinfra CLI or inside `with pyinfra.context.use(host=..., state=...)`"
                )
            global_kwargs = _deploy_kwargs()
            for key in list(kwargs):
                if key in ALL_GLOBAL_ARGUMENTS:
                    global_kwargs[key] = kwargs.pop(key)
            name = global_kwargs.pop("name", None)
            for key, value in global_kwargs.items():
                check_global_argument(key, value, op_label)
            unknown = [k for k in kwargs if k.startswith("_") and k not in signature.parameters]
            if unknown:
                raise OperationError(
                    f"{op_label}: unknown global argument {unknown[0]} "
                    "(see pyinfra.api.arguments for the list)"
                )
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise OperationError(f"{op_label}: {exc}") from exc
            check_operation_arguments(op_func, op_label, bound)

            site = call_site()
            occurrence = _occurrence(host, site)
            meta = OperationMeta(
                name=name or operation_label(op_label, bound, signature),
                host_name=host.name,
                operation=op_label,
                key=_key_text(site, op_label, occurrence),
                location=f"{site[-1][0]}, line {site[-1][1]}" if site else "",
            )
            return execute_operation(
                host,
                state,
                meta,
                (site, occurrence, op_label),
                lambda: op_func(*args, **kwargs),
                global_kwargs,
            )

        wrapper._pyinfra_op = op_func  # type: ignore[attr-defined]
        wrapper._pyinfra_op_options = options  # type: ignore[attr-defined]
        wrapper._inner = op_func  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    if func is not None and callable(func):
        return decorator(func)
    return decorator


def deploy(
    name: str | None = None,
    data_defaults: dict[str, Any] | None = None,
) -> Callable[[F], F]:
    """Group operations into a named deploy; global arguments given to the call
    (``_sudo=True``...) apply to every operation inside."""

    def decorator(func: F) -> F:
        deploy_name = name or func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            global_kwargs = {
                k: kwargs.pop(k) for k in list(kwargs) if k in ALL_GLOBAL_ARGUMENTS and k != "name"
            }
            for key, value in global_kwargs.items():
                check_global_argument(key, value, f"deploy {deploy_name}")
            host = context.get("host")
            previous = host.current_deploy_name if host is not None else None
            if host is not None:
                host.current_deploy_name = deploy_name
            push_deploy_kwargs(global_kwargs)
            try:
                return func(*args, **kwargs)
            finally:
                pop_deploy_kwargs()
                if host is not None:
                    host.current_deploy_name = previous

        return wrapper  # type: ignore[return-value]

    return decorator


def iter_commands(commands: Iterable[Any]) -> Generator[Any, Any, None]:
    yield from commands
