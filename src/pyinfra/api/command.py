"""Command objects: what operations yield and connectors execute.

``StringCommand`` joins *bits* into a shell command. A bit is a plain string (taken
as written: the caller's shell syntax), a ``QuoteString`` (one value, always
shell-quoted), a ``MaskString`` (a secret: shown as ``***`` everywhere but the
command actually run) or another ``StringCommand``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

MASK = "***"


class MaskString(str):
    """A string that must never be shown: logs and ``str()`` of a command show ``***``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MaskString('***')"


class QuoteString:
    """A single value that is always shell-quoted when the command is built."""

    __slots__ = ("obj",)

    def __init__(self, obj: str | StringCommand) -> None:
        self.obj = obj

    def __repr__(self) -> str:
        return f"QuoteString({self.obj!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QuoteString) and other.obj == self.obj

    def __hash__(self) -> int:
        return hash(("QuoteString", str(self.obj)))


Bit = Union[str, "StringCommand", QuoteString, MaskString]


def _render(bit: Any, masked: bool) -> str:
    if isinstance(bit, StringCommand):
        return bit._join(masked)
    if isinstance(bit, QuoteString):
        inner = bit.obj
        if isinstance(inner, StringCommand):
            return shlex.quote(inner._join(masked))
        if isinstance(inner, MaskString) and masked:
            return MASK
        return shlex.quote(str(inner))
    if isinstance(bit, MaskString):
        return MASK if masked else str(bit)
    return str(bit)


class PyinfraCommand:
    """Base of everything an operation can yield."""

    connector_arguments: dict[str, Any]

    def __init__(self, **arguments: Any) -> None:
        self.connector_arguments = arguments

    def execute(self, state: State | None, host: Host, connector_arguments: dict[str, Any]) -> Any:
        raise NotImplementedError


class StringCommand(PyinfraCommand):
    """A shell command made of bits joined by ``_separator`` (a space by default)."""

    def __init__(self, *bits: Any, _separator: str = " ", **arguments: Any) -> None:
        super().__init__(**arguments)
        self.bits: list[Any] = [b for b in bits if b is not None and b != ""]
        self.separator = _separator

    def _join(self, masked: bool) -> str:
        return self.separator.join(_render(bit, masked) for bit in self.bits)

    def get_raw_value(self) -> str:
        """The real command text, secrets included: only for handing to a shell."""
        return self._join(masked=False)

    def get_masked_value(self) -> str:
        """The command with every ``MaskString`` replaced by ``***``: safe to log."""
        return self._join(masked=True)

    def has_mask(self) -> bool:
        for bit in self.bits:
            if isinstance(bit, MaskString):
                return True
            if isinstance(bit, StringCommand) and bit.has_mask():
                return True
            if isinstance(bit, QuoteString):
                obj = bit.obj
                if isinstance(obj, MaskString):
                    return True
                if isinstance(obj, StringCommand) and obj.has_mask():
                    return True
        return False

    def __str__(self) -> str:
        return self.get_masked_value()

    def __repr__(self) -> str:
        return f"StringCommand({self.get_masked_value()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StringCommand):
            return self.get_raw_value() == other.get_raw_value()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.get_raw_value())

    def execute(self, state: State | None, host: Host, connector_arguments: dict[str, Any]) -> Any:
        return host.run_shell_command(
            self, print_output=False, print_input=False, **connector_arguments
        )


def make_formatted_string_command(string: str, *args: Any, **kwargs: Any) -> StringCommand:
    """Build a command from a format string; every argument is shell-quoted.

    ``make_formatted_string_command("rm -f {0}", path)`` quotes ``path``.
    """
    quoted_args = [QuoteString(a) if not isinstance(a, QuoteString) else a for a in args]
    quoted_kwargs = {
        k: QuoteString(v) if not isinstance(v, QuoteString) else v for k, v in kwargs.items()
    }
    # Format with placeholders, then split so each value stays a separate bit.
    marker = "\x00PYI{}\x00"
    values: list[Any] = []

    def slot(value: Any) -> str:
        values.append(value)
        return marker.format(len(values) - 1)

    text = string.format(
        *[slot(a) for a in quoted_args], **{k: slot(v) for k, v in quoted_kwargs.items()}
    )
    parts = text.split("\x00")
    bits: list[Any] = []
    for part in parts:
        if part.startswith("PYI") and part[3:].isdigit():
            bits.append(values[int(part[3:])])
        elif part:
            bits.append(part)
    return StringCommand(*bits, _separator="")


class _FileTransferCommand(PyinfraCommand):
    """A file moved between this machine and the host: ``src`` to ``dest``."""

    def __init__(
        self,
        src: Any,
        dest: Any,
        remote_temp_filename: str | None = None,
        **arguments: Any,
    ) -> None:
        super().__init__(**arguments)
        self.src = src
        self.dest = dest
        self.remote_temp_filename = remote_temp_filename

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.src!r}, {self.dest!r})"


class FileUploadCommand(_FileTransferCommand):
    """Upload ``src`` (a path or IO object) to ``dest`` on the host."""

    src: str | IO[Any]
    dest: str

    def execute(self, state: State | None, host: Host, connector_arguments: dict[str, Any]) -> Any:
        return host.put_file(self.src, self.dest, self.remote_temp_filename, **connector_arguments)


class FileDownloadCommand(_FileTransferCommand):
    """Download ``src`` on the host into ``dest`` (a path or IO object)."""

    src: str
    dest: str | IO[Any]

    def execute(self, state: State | None, host: Host, connector_arguments: dict[str, Any]) -> Any:
        return host.get_file(self.src, self.dest, self.remote_temp_filename, **connector_arguments)


class FunctionCommand(PyinfraCommand):
    """Call a Python function during the run: ``function(*args, **func_kwargs)``."""

    def __init__(
        self,
        function: Callable[..., Any],
        args: Iterable[Any],
        func_kwargs: dict[str, Any],
        **arguments: Any,
    ) -> None:
        super().__init__(**arguments)
        self.function = function
        self.args = list(args)
        self.kwargs = func_kwargs

    def __repr__(self) -> str:
        return f"FunctionCommand({getattr(self.function, '__name__', self.function)!r})"

    def execute(self, state: State | None, host: Host, connector_arguments: dict[str, Any]) -> Any:
        result = self.function(*self.args, **self.kwargs)
        return result is not False


class RsyncCommand(PyinfraCommand):
    """Copy ``src`` (on this machine) to ``dest`` on the host with rsync ``flags``
    (``files.rsync``; only connectors with ``rsync()`` can run it)."""

    def __init__(self, src: str, dest: str, flags: Iterable[str], **arguments: Any) -> None:
        super().__init__(**arguments)
        self.src = src
        self.dest = dest
        self.flags = list(flags)

    def __repr__(self) -> str:
        return f"RsyncCommand({self.src!r}, {self.dest!r}, {self.flags!r})"

    def __str__(self) -> str:
        return shlex.join(["rsync", *self.flags, self.src, self.dest])

    def execute(self, state: State | None, host: Host, connector_arguments: dict[str, Any]) -> Any:
        return host.rsync(
            self.src,
            self.dest,
            self.flags,
            print_output=bool(state is not None and state.print_output),
            print_input=bool(state is not None and state.print_input),
            **connector_arguments,
        )


__all__ = [
    "RsyncCommand",
    "MaskString",
    "QuoteString",
    "PyinfraCommand",
    "StringCommand",
    "FileUploadCommand",
    "FileDownloadCommand",
    "FunctionCommand",
    "make_formatted_string_command",
]
