"""Connector arguments: the ``_``-prefixed keywords that control how a command runs.

One vocabulary: :data:`ARGUMENT_META` declares every argument once, with its type, its
default and its group (escalation, shell, transfer, control, retry); the key tuples the
rest of the code uses are derived from it. The operation layer resolves the arguments
of a call (the call's keyword, then the host's inventory data, then ``Config``, then the
default) into a :class:`ResolvedArguments`; a connector builds exactly from what it gets.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any, TypedDict

from pyinfra.api.config import Config
from pyinfra.api.exceptions import ArgumentTypeError

if TYPE_CHECKING:
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
    _dzdo: bool
    _dzdo_user: str | None
    # Shell and environment
    _shell_executable: str | None
    _chdir: str | None
    _env: dict[str, str]
    _temp_dir: str | None
    # Control
    _success_exit_codes: Iterable[int]
    _timeout: float | None
    _get_pty: bool
    _stdin: str | bytes | list[str] | IO[Any] | None
    _retries: int
    _retry_delay: float
    _retry_until: Callable[[dict[str, Any]], bool] | None


# The groups every argument belongs to: what it is for, and who acts on it.
ESCALATION = "escalation"  # who the command runs as (sudo, su, doas) and their secrets
SHELL = "shell"  # how the command line is built: shell, directory, environment
TRANSFER = "transfer"  # where file transfers stage their temporary files
CONTROL = "control"  # how the process is driven: exit codes, timeout, pty, stdin
RETRY = "retry"  # operation-level: the engine retries, connectors never see these


@dataclass(frozen=True)
class ArgumentMeta:
    description: str
    default: Callable[[Config], Any]
    types: tuple[type, ...]
    group: str
    nullable: bool = True
    secret: bool = False  # never shown, logged or put in a cache key


def _cfg(name: str) -> Callable[[Config], Any]:
    return lambda config: getattr(config, name)


def _const(value: Any) -> Callable[[Config], Any]:
    return lambda config: value


ARGUMENT_META: dict[str, ArgumentMeta] = {
    "_sudo": ArgumentMeta("Run the command with sudo", _cfg("SUDO"), (bool,), ESCALATION),
    "_sudo_user": ArgumentMeta("User to sudo to", _cfg("SUDO_USER"), (str,), ESCALATION),
    "_use_sudo_login": ArgumentMeta(
        "Use a login shell with sudo (-i)", _cfg("USE_SUDO_LOGIN"), (bool,), ESCALATION
    ),
    "_sudo_password": ArgumentMeta(
        "Password for sudo (never shown or put in argv)",
        _cfg("SUDO_PASSWORD"),
        (str,),
        ESCALATION,
        secret=True,
    ),
    "_preserve_sudo_env": ArgumentMeta(
        "Keep the environment with sudo (-E)", _cfg("PRESERVE_SUDO_ENV"), (bool,), ESCALATION
    ),
    "_su_user": ArgumentMeta("User to su to", _cfg("SU_USER"), (str,), ESCALATION),
    "_use_su_login": ArgumentMeta(
        "Use a login shell with su (-l)", _cfg("USE_SU_LOGIN"), (bool,), ESCALATION
    ),
    "_preserve_su_env": ArgumentMeta(
        "Keep the environment with su (-m)", _cfg("PRESERVE_SU_ENV"), (bool,), ESCALATION
    ),
    "_su_shell": ArgumentMeta("Shell for su (-s)", _cfg("SU_SHELL"), (str,), ESCALATION),
    "_su_password": ArgumentMeta(
        "Password for su (sent over a pty, never in argv)",
        _cfg("SU_PASSWORD"),
        (str,),
        ESCALATION,
        secret=True,
    ),
    "_doas": ArgumentMeta("Run the command with doas", _cfg("DOAS"), (bool,), ESCALATION),
    "_doas_user": ArgumentMeta("User to doas to", _cfg("DOAS_USER"), (str,), ESCALATION),
    "_dzdo": ArgumentMeta("Run the command with dzdo", _cfg("DZDO"), (bool,), ESCALATION),
    "_dzdo_user": ArgumentMeta("User to dzdo to", _cfg("DZDO_USER"), (str,), ESCALATION),
    "_shell_executable": ArgumentMeta(
        "Shell that runs the command (None: no shell)", _cfg("SHELL"), (str,), SHELL
    ),
    "_chdir": ArgumentMeta("Directory to run the command in", _const(None), (str,), SHELL),
    "_env": ArgumentMeta("Environment variables for the command", _cfg("ENV"), (dict,), SHELL),
    "_temp_dir": ArgumentMeta("Remote temporary directory", _cfg("TEMP_DIR"), (str,), TRANSFER),
    "_success_exit_codes": ArgumentMeta(
        "Exit codes that count as success",
        _const((0,)),
        (list, tuple, set, frozenset),
        CONTROL,
    ),
    "_timeout": ArgumentMeta(
        "Seconds after which the command is killed", _const(None), (int, float), CONTROL
    ),
    "_get_pty": ArgumentMeta(
        "Run the command in a pseudo-terminal", _const(False), (bool,), CONTROL
    ),
    "_stdin": ArgumentMeta(
        "Data written to the command's standard input (text, bytes, lines or a file)",
        _const(None),
        (str, bytes, list, tuple, io.IOBase),
        CONTROL,
    ),
    "_retries": ArgumentMeta("Times to retry a failed command", _cfg("RETRY"), (int,), RETRY),
    "_retry_delay": ArgumentMeta(
        "Seconds between retries", _cfg("RETRY_DELAY"), (int, float), RETRY
    ),
    "_retry_until": ArgumentMeta(
        "Retry until this callable returns True", _const(None), (object,), RETRY
    ),
}


def keys_of(*groups: str) -> tuple[str, ...]:
    """The argument names of these groups, in declaration order."""
    return tuple(key for key, meta in ARGUMENT_META.items() if meta.group in groups)


CONNECTOR_ARGUMENT_KEYS: tuple[str, ...] = tuple(ConnectorArguments.__annotations__)
ESCALATION_ARGUMENT_KEYS = keys_of(ESCALATION)
SHELL_ARGUMENT_KEYS = keys_of(SHELL)
CONTROL_ARGUMENT_KEYS = keys_of(CONTROL)
RETRY_ARGUMENT_KEYS = keys_of(RETRY)
# What a connector receives: everything but the engine's retry arguments.
EXECUTION_ARGUMENT_KEYS = keys_of(ESCALATION, SHELL, TRANSFER, CONTROL)
SECRET_ARGUMENT_KEYS = tuple(key for key, meta in ARGUMENT_META.items() if meta.secret)

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


def _default_value(key: str, config: Config) -> Any:
    value = ARGUMENT_META[key].default(config)
    if key == "_env" and value is None:
        return {}
    if key == "_success_exit_codes" and value is None:
        return (0,)
    return value


class ResolvedArguments(Mapping[str, Any]):
    """The execution arguments of one call, every key present, read-only.

    Made once where the arguments are decided (:meth:`for_host` in the operation layer:
    the call, then host data, then ``Config``; :meth:`from_call` in a connector: exactly
    what was passed, else pyinfra's defaults) and then only read: by the command builder
    (:meth:`command_arguments`), the process runner (:attr:`timeout`, :attr:`stdin`...)
    and a kill, which escalates like the command it kills (:attr:`escalation`). It is a
    mapping of ``_``-prefixed names, so ``**arguments`` passes it on as keywords.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        missing = [key for key in EXECUTION_ARGUMENT_KEYS if key not in values]
        if missing:
            raise ValueError(f"unresolved arguments: {', '.join(missing)}")
        self._values: Mapping[str, Any] = MappingProxyType(
            {key: values[key] for key in EXECUTION_ARGUMENT_KEYS}
        )

    @classmethod
    def resolve(
        cls,
        given: Mapping[str, Any] | None = None,
        host_data: Mapping[str, Any] | None = None,
        config: Config | None = None,
    ) -> ResolvedArguments:
        """Each argument from ``given``, else ``host_data``, else ``config``, else the
        default (a missing ``config`` means pyinfra's defaults). Types are checked."""
        cfg = config if config is not None else Config()
        given = given or {}
        host_data = host_data or {}
        values: dict[str, Any] = {}
        for key in EXECUTION_ARGUMENT_KEYS:
            if key in given:
                value = given[key]
            elif key in host_data:
                value = host_data[key]
            else:
                value = _default_value(key, cfg)
            check_argument_type(key, value)
            values[key] = value
        if values["_env"] is None:
            values["_env"] = {}
        if values["_success_exit_codes"] is None:
            values["_success_exit_codes"] = (0,)
        return cls(values)

    @classmethod
    def from_call(cls, given: Mapping[str, Any] | None = None) -> ResolvedArguments:
        """Exactly the arguments passed, the others at pyinfra's defaults: what a
        connector builds from (``--sudo`` or host data are not its business)."""
        if isinstance(given, ResolvedArguments):
            return given
        return cls.resolve(given)

    @classmethod
    def for_host(
        cls, host: Host | None, given: Mapping[str, Any] | None = None
    ) -> ResolvedArguments:
        """The arguments of a call on ``host``: the call's, then the host's data, then
        its run's ``Config`` (``--sudo``...), then the defaults."""
        if host is None:
            return cls.resolve(given)
        config = host.state.config if host.state is not None else None
        return cls.resolve(given, host.data.dict(), config)

    # Mapping ----------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        shown = {k: ("***" if k in SECRET_ARGUMENT_KEYS and v else v) for k, v in self.items()}
        return f"ResolvedArguments({shown!r})"

    def replace(self, **changes: Any) -> ResolvedArguments:
        """A copy with some arguments changed (``replace(_sudo_password="...")``)."""
        for key, value in changes.items():
            if key not in self._values:
                raise KeyError(key)
            check_argument_type(key, value)
        return ResolvedArguments({**self._values, **changes})

    # Groups -----------------------------------------------------------------

    @property
    def escalation(self) -> dict[str, Any]:
        """The escalation arguments (sudo/su/doas, their users and secrets)."""
        return {key: self._values[key] for key in ESCALATION_ARGUMENT_KEYS}

    @property
    def escalates(self) -> bool:
        """Whether the command runs as someone else (sudo, su, doas or dzdo)."""
        v = self._values
        return bool(v["_sudo"] or v["_su_user"] or v["_doas"] or v["_dzdo"])

    @property
    def target_user(self) -> str | None:
        """The user an escalated command ends up as (None: no escalation)."""
        v = self._values
        if v["_su_user"]:
            return str(v["_su_user"])
        if v["_sudo"]:
            return str(v["_sudo_user"] or "root")
        if v["_doas"]:
            return str(v["_doas_user"] or "root")
        if v["_dzdo"]:
            return str(v["_dzdo_user"] or "root")
        return None

    def command_arguments(self) -> dict[str, Any]:
        """What the command line is built from: the escalation and shell groups."""
        return {key: self._values[key] for key in (*ESCALATION_ARGUMENT_KEYS, *SHELL_ARGUMENT_KEYS)}

    def as_login_user(self) -> ResolvedArguments:
        """The same call without escalation (a connector's own helper commands)."""
        return self.replace(
            **{key: _default_value(key, Config()) for key in ESCALATION_ARGUMENT_KEYS}
        )

    # Control ----------------------------------------------------------------

    @property
    def timeout(self) -> float | None:
        value = self._values["_timeout"]
        return None if value is None else float(value)

    @property
    def success_exit_codes(self) -> tuple[int, ...]:
        return tuple(self._values["_success_exit_codes"] or (0,))

    @property
    def get_pty(self) -> bool:
        return bool(self._values["_get_pty"])

    @property
    def stdin(self) -> Any:
        return self._values["_stdin"]

    @property
    def temp_dir(self) -> str:
        return str(self._values["_temp_dir"] or "/tmp")


def pop_connector_arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Remove and return the ``_``-prefixed connector arguments from ``kwargs``."""
    return {k: kwargs.pop(k) for k in list(kwargs) if k in ARGUMENT_META}


__all__ = [
    "ConnectorArguments",
    "ResolvedArguments",
    "CONNECTOR_ARGUMENT_KEYS",
    "EXECUTION_ARGUMENT_KEYS",
    "ESCALATION_ARGUMENT_KEYS",
    "SHELL_ARGUMENT_KEYS",
    "CONTROL_ARGUMENT_KEYS",
    "RETRY_ARGUMENT_KEYS",
    "SECRET_ARGUMENT_KEYS",
    "ARGUMENT_META",
    "keys_of",
    "get_execution_kwarg_keys",
    "get_connector_argument_keys",
    "pop_connector_arguments",
    "check_argument_type",
]
