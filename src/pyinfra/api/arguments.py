"""Connector arguments: the ``_``-prefixed keywords that control how a command runs.

Each argument is resolved in this order: the operation/call keyword, then the host's
inventory data (``_sudo`` in host data), then ``Config`` (``SUDO``), then the default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from pyinfra.api.exceptions import ArgumentTypeError

if TYPE_CHECKING:
    from pyinfra.api.config import Config
    from pyinfra.api.host import Host


class ConnectorArguments(TypedDict, total=False):
    """Every keyword a connector's ``run_shell_command``/``put_file``/``get_file`` accepts."""

    # Privilege escalation
    _sudo: bool
    _sudo_user: str | None
    _use_sudo_login: bool
    _sudo_password: str | None
    _preserve_sudo_env: bool
    _su_user: str | None
    _use_su_login: bool
    _preserve_su_env: bool
    _su_shell: str | None
    _su_password: str | None
    _doas: bool
    _doas_user: str | None
    # Shell and environment
    _shell_executable: str | None
    _chdir: str | None
    _env: dict[str, str]
    _temp_dir: str | None
    # Control
    _success_exit_codes: Iterable[int]
    _timeout: float | None
    _get_pty: bool
    _stdin: str | bytes | list[str] | None
    _retries: int
    _retry_delay: float
    _retry_until: Callable[[dict[str, Any]], bool] | None


@dataclass(frozen=True)
class ArgumentMeta:
    description: str
    default: Callable[[Config], Any]
    types: tuple[type, ...]
    nullable: bool = True


def _cfg(name: str) -> Callable[[Config], Any]:
    return lambda config: getattr(config, name)


def _const(value: Any) -> Callable[[Config], Any]:
    return lambda config: value


ARGUMENT_META: dict[str, ArgumentMeta] = {
    "_sudo": ArgumentMeta("Run the command with sudo", _cfg("SUDO"), (bool,)),
    "_sudo_user": ArgumentMeta("User to sudo to", _cfg("SUDO_USER"), (str,)),
    "_use_sudo_login": ArgumentMeta(
        "Use a login shell with sudo (-i)", _cfg("USE_SUDO_LOGIN"), (bool,)
    ),
    "_sudo_password": ArgumentMeta(
        "Password for sudo (never shown or put in argv)", _cfg("SUDO_PASSWORD"), (str,)
    ),
    "_preserve_sudo_env": ArgumentMeta(
        "Keep the environment with sudo (-E)", _cfg("PRESERVE_SUDO_ENV"), (bool,)
    ),
    "_su_user": ArgumentMeta("User to su to", _cfg("SU_USER"), (str,)),
    "_use_su_login": ArgumentMeta("Use a login shell with su (-l)", _cfg("USE_SU_LOGIN"), (bool,)),
    "_preserve_su_env": ArgumentMeta(
        "Keep the environment with su (-m)", _cfg("PRESERVE_SU_ENV"), (bool,)
    ),
    "_su_shell": ArgumentMeta("Shell for su (-s)", _cfg("SU_SHELL"), (str,)),
    "_su_password": ArgumentMeta(
        "Password for su (sent over a pty, never in argv)", _cfg("SU_PASSWORD"), (str,)
    ),
    "_doas": ArgumentMeta("Run the command with doas", _cfg("DOAS"), (bool,)),
    "_doas_user": ArgumentMeta("User to doas to", _cfg("DOAS_USER"), (str,)),
    "_shell_executable": ArgumentMeta(
        "Shell that runs the command (None: no shell)", _cfg("SHELL"), (str,)
    ),
    "_chdir": ArgumentMeta("Directory to run the command in", _const(None), (str,)),
    "_env": ArgumentMeta("Environment variables for the command", _cfg("ENV"), (dict,)),
    "_temp_dir": ArgumentMeta("Remote temporary directory", _cfg("TEMP_DIR"), (str,)),
    "_success_exit_codes": ArgumentMeta(
        "Exit codes that count as success", _const((0,)), (list, tuple, set, frozenset)
    ),
    "_timeout": ArgumentMeta(
        "Seconds after which the command is killed", _const(None), (int, float)
    ),
    "_get_pty": ArgumentMeta("Run the command in a pseudo-terminal", _const(False), (bool,)),
    "_stdin": ArgumentMeta(
        "Data written to the command's standard input", _const(None), (str, bytes, list, tuple)
    ),
    "_retries": ArgumentMeta("Times to retry a failed command", _cfg("RETRY"), (int,)),
    "_retry_delay": ArgumentMeta("Seconds between retries", _cfg("RETRY_DELAY"), (int, float)),
    "_retry_until": ArgumentMeta("Retry until this callable returns True", _const(None), (object,)),
}

CONNECTOR_ARGUMENT_KEYS: tuple[str, ...] = tuple(ConnectorArguments.__annotations__)
CONTROL_ARGUMENT_KEYS: tuple[str, ...] = ("_success_exit_codes", "_timeout", "_get_pty", "_stdin")
RETRY_ARGUMENT_KEYS: tuple[str, ...] = ("_retries", "_retry_delay", "_retry_until")

assert set(ARGUMENT_META) == set(CONNECTOR_ARGUMENT_KEYS)


def get_execution_kwarg_keys() -> list[str]:
    """All connector argument names, in declaration order."""
    return list(CONNECTOR_ARGUMENT_KEYS)


def get_connector_argument_keys() -> list[str]:
    return list(CONNECTOR_ARGUMENT_KEYS)


def check_argument_type(key: str, value: Any) -> None:
    meta = ARGUMENT_META.get(key)
    if meta is None or value is None:
        return
    if meta.types == (object,):
        if not callable(value):
            raise ArgumentTypeError(f"argument {key} must be callable, got {type(value).__name__}")
        return
    if key in ("_timeout", "_retry_delay") and isinstance(value, bool):
        raise ArgumentTypeError(f"argument {key} must be a number, got bool")
    if not isinstance(value, meta.types):
        expected = " or ".join(t.__name__ for t in meta.types)
        raise ArgumentTypeError(
            f"argument {key} must be {expected}, got {type(value).__name__} ({value!r})"
        )


def resolve_connector_arguments(
    host: Host | None,
    config: Config | None,
    given: Mapping[str, Any] | None = None,
) -> ConnectorArguments:
    """Every connector argument resolved: ``given`` > host data > config > default."""
    from pyinfra.api.config import Config

    cfg = config if config is not None else Config()
    given = given or {}
    host_data: Mapping[str, Any] = host.data.dict() if host is not None else {}
    out: dict[str, Any] = {}
    for key, meta in ARGUMENT_META.items():
        if key in given:
            value = given[key]
        elif key in host_data:
            value = host_data[key]
        else:
            value = meta.default(cfg)
        check_argument_type(key, value)
        out[key] = value
    if out["_env"] is None:
        out["_env"] = {}
    if out["_success_exit_codes"] is None:
        out["_success_exit_codes"] = (0,)
    return out  # type: ignore[return-value]


def pop_connector_arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Remove and return the ``_``-prefixed connector arguments from ``kwargs``."""
    return {k: kwargs.pop(k) for k in list(kwargs) if k in ARGUMENT_META}


__all__ = [
    "ConnectorArguments",
    "CONNECTOR_ARGUMENT_KEYS",
    "CONTROL_ARGUMENT_KEYS",
    "ARGUMENT_META",
    "get_execution_kwarg_keys",
    "get_connector_argument_keys",
    "resolve_connector_arguments",
    "pop_connector_arguments",
    "check_argument_type",
]
