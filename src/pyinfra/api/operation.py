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
from collections.abc import Callable, Generator, Hashable
from types import CodeType
from typing import TYPE_CHECKING, Any, TypeVar, overload

import pyinfra
from pyinfra import context
from pyinfra.api.arguments import ARGUMENT_META, check_argument_type
from pyinfra.api.arguments_typed import P, PyinfraOperation
from pyinfra.api.command import MaskString
from pyinfra.api.exceptions import OperationError, PyinfraError
from pyinfra.api.opexec import execute_operation, in_operation, plan_operation
from pyinfra.api.planning import PendingOperation, plan_on_hosts
from pyinfra.api.results import CommandResult as CommandResult
from pyinfra.api.results import HostOperationFailed as HostOperationFailed
from pyinfra.api.results import OperationDiff as OperationDiff
from pyinfra.api.results import OperationMeta as OperationMeta
from pyinfra.api.typecheck import check_value, describe_type, resolved_hints
from pyinfra.api.util import make_hash

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

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


def _with_deploy_arguments(host: Any, call: dict[str, Any]) -> dict[str, Any]:
    """The global arguments of the enclosing ``@deploy``/``host.arguments`` blocks, with
    the call's own on top (``_if`` conditions of both apply)."""
    merged = dict(getattr(host, "current_deploy_kwargs", None) or {})
    for key, value in call.items():
        outer = merged.get(key)
        if key == "_if" and outer is not None and value is not None:
            value = [*_listed(outer), *_listed(value)]
        merged[key] = value
    return merged


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


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


def _argument_text(value: Any) -> str:
    if isinstance(value, MaskString):
        return "***"
    name = getattr(value, "__name__", None)
    return str(name) if isinstance(value, type) or callable(value) and name else str(value)


def call_arguments(args: tuple[Any, ...], kwargs: dict[str, Any], named: bool) -> list[str]:
    """The arguments of a call as pyinfra 3.x lists them for an operation it names
    itself (``value``, ``key=value``; none when the call gives ``name=``); secrets
    masked."""
    if named:
        return []
    out = [_argument_text(value) for value in args]
    for key, value in kwargs.items():
        secret = any(word in key.lower() for word in _SECRET_WORDS)
        out.append(f"{key}={'***' if secret else _argument_text(value)}")
    return out


# The decorators -----------------------------------------------------------------


@overload
def operation(func: Callable[P, Generator[Any, Any, Any]]) -> PyinfraOperation[P]: ...


@overload
def operation(
    func: None = None, **options: Any
) -> Callable[[Callable[P, Generator[Any, Any, Any]]], PyinfraOperation[P]]: ...


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
            host = kwargs.pop("host", None) or context.get("host")
            state = kwargs.pop("state", None) or context.get("state")
            if host is None:
                raise OperationError(
                    f"operation {op_label} was called outside a deploy: run it with the "
                    "pyinfra CLI or inside `with pyinfra.context.use(host=..., state=...)`"
                )
            call_globals = {k: kwargs.pop(k) for k in list(kwargs) if k in ALL_GLOBAL_ARGUMENTS}
            global_kwargs = _with_deploy_arguments(host, call_globals)
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
            key_text = _key_text(site, op_label, occurrence)
            label = name or operation_label(op_label, bound, signature)
            if host.current_deploy_name:
                label = f"{host.current_deploy_name} | {label}"
            meta = OperationMeta(
                name=label,
                host_name=host.name,
                operation=op_label,
                key=key_text,
                location=f"{site[-1][0]}, line {site[-1][1]}" if site else "",
                op_hash=make_hash(key_text),
            )
            turn_key = (site, occurrence, op_label)
            arguments = call_arguments(args, kwargs, name is not None)
            plan = context.get("planning")
            if plan is not None and state is not None and not in_operation():
                pending = PendingOperation(
                    meta, turn_key, lambda: op_func(*args, **kwargs), dict(global_kwargs), arguments
                )
                plan_operation(host, state, meta, pending.make_generator, global_kwargs, arguments)
                plan.add(host, pending)
                return meta
            return execute_operation(
                host,
                state,
                meta,
                turn_key,
                lambda: op_func(*args, **kwargs),
                global_kwargs,
                arguments,
            )

        wrapper._inner = op_func  # type: ignore[attr-defined]  # pyinfra 3.x: the generator
        wrapper._pyinfra_op_options = options  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    if func is not None and callable(func):
        return decorator(func)
    return decorator


def add_op(
    state: State, op_func: Callable[..., Any], *args: Any, **kwargs: Any
) -> dict[Host, OperationMeta]:
    """Plan an operation on the state's active hosts (or ``host=``, a host or a list):
    facts are read and the change predicted now (``meta.will_change``); ``run_ops(state)``
    executes it. Returns ``{host: OperationMeta}``."""
    hosts = kwargs.pop("host", None)
    return plan_on_hosts(state, hosts, lambda: op_func(*args, **kwargs))
