"""BaseConnector: what every connector, built-in or third-party, implements."""

from __future__ import annotations

import abc
import types
import typing
from collections.abc import Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any, Union, get_args, get_origin

from typing_extensions import TypedDict, Unpack

from pyinfra.api.arguments import ConnectorArguments
from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import ConnectorDataTypeError
from pyinfra.connectors.output import CommandOutput

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State


class DataMeta:
    """Description and default of one connector data key."""

    description: str
    default: Any

    def __init__(self, description: str, default: Any = None) -> None:
        self.description = description
        self.default = default

    def __repr__(self) -> str:
        return f"DataMeta({self.description!r}, {self.default!r})"


class ConnectorData(TypedDict, total=False):
    pass


def _type_name(expected: Any) -> str:
    origin = get_origin(expected)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(expected))
    if expected is type(None):
        return "None"
    if origin is not None:
        return getattr(origin, "__name__", str(origin))
    return getattr(expected, "__name__", str(expected))


def _matches(value: Any, expected: Any) -> bool:
    if expected is Any or expected is object:
        return True
    origin = get_origin(expected)
    if origin in (Union, types.UnionType):
        return any(_matches(value, arg) for arg in get_args(expected))
    if origin is typing.Literal:
        return value in get_args(expected)
    if expected is type(None):
        return value is None
    if origin is not None:
        expected = origin
    if not isinstance(expected, type):
        return True
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _type_hints(data_cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(data_cls)
    except Exception:  # noqa: BLE001 - unresolved forward refs: fall back to raw
        return dict(getattr(data_cls, "__annotations__", {}))


def host_to_connector_data(
    data_cls: type,
    data_meta: Mapping[str, DataMeta],
    host_data: Mapping[str, Any] | Any,
    host_name: str | None = None,
) -> dict[str, Any]:
    """Pick this connector's keys out of the host data, apply defaults, check types.

    A value of the wrong type raises ``ConnectorDataTypeError`` naming the host, the
    key, the expected type and the given one.
    """
    hints = _type_hints(data_cls)
    getter = host_data.get if hasattr(host_data, "get") else (lambda k, d=None: d)
    out: dict[str, Any] = {}
    for key in {**dict.fromkeys(data_meta), **dict.fromkeys(hints)}:
        meta = data_meta.get(key)
        default = meta.default if meta is not None else None
        value = getter(key, default)
        if value is None:
            value = default
        if value is not None and key in hints and not _matches(value, hints[key]):
            where = f"host {host_name}: " if host_name else ""
            raise ConnectorDataTypeError(
                f"{where}connector data {key} must be {_type_name(hints[key])}, "
                f"got {type(value).__name__} ({value!r})"
            )
        out[key] = value
    return out


_NO_RSYNC = (
    "the {name} connector cannot run rsync (only the ssh and local connectors can): "
    "use files.sync for this host"
)


class BaseConnector(abc.ABC):
    """Base class of every connector.

    Class attributes: ``handles_execution`` (False: the connector only generates
    inventory and its hosts run over SSH), ``data_cls`` (a TypedDict of the data keys
    it reads) and ``data_meta`` (``{key: DataMeta(description, default)}``).
    """

    state: State
    host: Host
    # Whether commands may be combined into one shell script (several fact reads, an
    # operation's consecutive commands: one round trip). Only for connectors that run
    # every command through a POSIX shell; a connector for network devices must not.
    batches_shell_commands: bool = False
    handles_execution: bool = False

    def batches_upload(self, size: int) -> bool:
        """Whether an upload of ``size`` bytes (no escalation) may go out as a command
        of a batch, its data on the batch's stdin (``upload.sh``): worth it where a round
        trip costs more than the command (see the SSH connector)."""
        return False
    data_cls: type = ConnectorData
    data_meta: dict[str, DataMeta] = {}

    def __init__(self, state: State, host: Host) -> None:
        self.state = state
        self.host = host
        self.data: Any = host_to_connector_data(
            self.data_cls, self.data_meta, host.data, host_name=host.name
        )

    @staticmethod
    @abc.abstractmethod
    def make_names_data(name: str) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        """Generate inventory targets: yield ``(name, data, groups)``."""

    def connect(self) -> None:  # noqa: B027 - optional hook
        """Connect this connector instance; raise ``ConnectError`` on failure."""

    def disconnect(self) -> None:  # noqa: B027 - optional hook
        """Disconnect this connector instance. Must be safe to call twice."""

    @abc.abstractmethod
    def run_shell_command(
        self,
        command: StringCommand,
        print_output: bool,
        print_input: bool,
        **arguments: Unpack[ConnectorArguments],
    ) -> tuple[bool, CommandOutput]:
        """Execute a command; return ``(success, CommandOutput)``."""

    @abc.abstractmethod
    def put_file(
        self,
        filename_or_io: str | IO[Any],
        remote_filename: str,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        """Upload a file or IO object; return success."""

    @abc.abstractmethod
    def get_file(
        self,
        remote_filename: str,
        filename_or_io: str | IO[Any],
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        """Download a file into a path or IO object; return success."""

    def check_can_rsync(self) -> None:
        """Raise ``NotImplementedError`` saying why ``files.rsync`` cannot run here."""
        raise NotImplementedError(_NO_RSYNC.format(name=type(self).__name__))

    def rsync(
        self,
        src: str,
        dest: str,
        flags: list[str],
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        raise NotImplementedError(_NO_RSYNC.format(name=type(self).__name__))

    # Context-manager support: ``with connector: ...`` connects and disconnects.
    def __enter__(self) -> BaseConnector:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()


__all__ = ["BaseConnector", "ConnectorData", "DataMeta", "host_to_connector_data"]
