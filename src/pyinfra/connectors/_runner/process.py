"""What a connector gives the runner: a started :class:`Process`, and the
:class:`Responder` that answers a password prompt on its stdin."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from pyinfra.connectors.output import CommandOutput, Failure


class Process(Protocol):
    """Transport primitives of one running command.

    Optional extras the runner uses when present: ``close()`` (release the streams once
    both are read; also used to stop writing to a command that ended without reading
    its input), ``failure(output) -> Failure | None`` (why a failed command failed when
    the reason is not in its output: the connection was lost, the container stopped;
    after a timeout whose kill did not end the command: why not) and ``kill_refused()``
    (the sudo/su password was refused: stop without escalating again).
    """

    has_stderr: bool  # False when stderr is merged into stdout (a pty)

    def read_stdout(self) -> bytes:
        """Block for the next chunk of stdout; ``b""`` at end of stream."""

    def read_stderr(self) -> bytes:
        """Block for the next chunk of stderr; ``b""`` at end of stream."""

    def write_stdin(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def wait(self, timeout: float | None) -> int | None:
        """Exit status, or ``None`` if still running after ``timeout`` seconds."""

    def kill(self) -> None:
        """Kill the command and everything it started. Safe to call twice."""


@dataclass(frozen=True)
class Responder:
    """Answer a prompt seen on an output stream with a secret, written to stdin.

    The prompt text is removed from the output. A second prompt means the secret was
    refused: the process is then killed and ``refused`` recorded as the failure.
    """

    pattern: re.Pattern[bytes]
    secret: str = field(repr=False)
    refused: Failure


def process_failure(process: Process, output: CommandOutput) -> Failure | None:
    """The process's own diagnosis of a failed command, if it has one."""
    diagnose = getattr(process, "failure", None)
    if diagnose is None:
        return None
    result: Failure | None = diagnose(output)
    return result
