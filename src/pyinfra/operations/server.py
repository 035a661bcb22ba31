"""Operations on the server as a whole."""

from __future__ import annotations

from collections.abc import Generator
from typing import IO, Any

from pyinfra.api.command import FileUploadCommand, StringCommand
from pyinfra.api.operation import operation
from pyinfra.context import host


@operation()
def shell(commands: str | list[str]) -> Generator[Any, Any, None]:
    """Run one or more shell commands (always reports a change)."""
    if isinstance(commands, str):
        commands = [commands]
    yield from commands


@operation()
def script(src: str | IO[Any], args: tuple[str, ...] | list[str] = ()) -> Generator[Any, Any, None]:
    """Upload a local script to a temp file on the host, run it, then remove it."""
    temp = host.get_temp_filename()
    yield FileUploadCommand(src, temp)
    yield StringCommand("chmod", "+x", temp)
    yield StringCommand(temp, *args)
    yield StringCommand("rm", "-f", temp)
