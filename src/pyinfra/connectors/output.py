"""CommandOutput and OutputLine: what a command printed, in arrival order, and why it
failed when the reason is not in its own output (:class:`Failure`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OutputLine:
    """One line of output. ``buffer_name`` is ``"stdout"`` or ``"stderr"``."""

    buffer_name: str
    line: str
    raw: bytes | None = field(default=None, compare=False, repr=False)

    def __iter__(self) -> Iterator[str]:  # allows ``buffer, line = output_line``
        yield self.buffer_name
        yield self.line


# Failure kinds: what went wrong around the command (not in the command itself).
TIMEOUT = "timeout"  # _timeout passed: the command was killed
INPUT_FAILED = "input"  # reading the local data for its stdin failed
PASSWORD_REFUSED = "password-refused"  # sudo/su refused the password given
PASSWORD_NEEDED = "password-needed"  # sudo wants a password and none was given
CONNECTION_LOST = "connection-lost"  # the connection to the target went away
TARGET_GONE = "target-gone"  # the container stopped or was removed meanwhile


@dataclass(frozen=True)
class Failure:
    """The project's own diagnosis of a failed command: a kind (above) and one line."""

    kind: str
    message: str

    def line(self) -> str:
        """How the diagnosis reads among the command's stderr lines."""
        return f"pyinfra: {self.message}"


class CommandOutput:
    """The lines of one command, both streams interleaved in the order they arrived.

    ``combined_lines`` holds exactly what the target printed. ``failure`` is set when
    the command failed for a reason of our own finding (a timeout, a refused password,
    a lost connection...); the line views (``stderr``, ``stderr_lines``, ``output``,
    iteration) show it as a last stderr line ``pyinfra: ...``, so that code reading the
    output the pyinfra 3.x way still sees why. :meth:`failure_line` is the one line
    that explains a failure, whatever caused it. ``omitted_lines`` counts the lines
    that were streamed to a callback and not kept (only the last ones are).
    """

    def __init__(
        self,
        combined_lines: Iterable[OutputLine] | None = None,
        exit_code: int | None = None,
        timed_out: bool = False,
        *,
        stdout_lines: Iterable[str] | None = None,
        stderr_lines: Iterable[str] | None = None,
        failure: Failure | None = None,
    ) -> None:
        """``CommandOutput(lines)``, or ``CommandOutput(stdout_lines=[...],
        stderr_lines=[...])`` when the order across the two streams is not known."""
        self.combined_lines: list[OutputLine] = list(combined_lines or [])
        self.combined_lines += [OutputLine("stdout", line) for line in stdout_lines or []]
        self.combined_lines += [OutputLine("stderr", line) for line in stderr_lines or []]
        self.exit_code = exit_code
        self.timed_out = timed_out
        self.failure = failure
        self.omitted_lines = 0

    @property
    def lines(self) -> list[OutputLine]:
        """The target's lines, then the diagnosis (if any) as a stderr line."""
        if self.failure is None:
            return list(self.combined_lines)
        return [*self.combined_lines, OutputLine("stderr", self.failure.line())]

    def __iter__(self) -> Iterator[OutputLine]:
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    def __repr__(self) -> str:
        return (
            f"CommandOutput(exit_code={self.exit_code}, lines={len(self.combined_lines)}"
            f"{', timed_out' if self.timed_out else ''}"
            f"{f', failure={self.failure.kind}' if self.failure else ''})"
        )

    def fail(self, kind: str, message: str) -> None:
        """Record why the command failed (the first diagnosis is kept)."""
        if self.failure is None:
            self.failure = Failure(kind, message)

    def failure_line(self) -> str:
        """The one line that explains why the command failed: our diagnosis, else the
        last non-empty line the command wrote to stderr, else its exit status."""
        if self.failure is not None:
            return self.failure.message
        for line in reversed(self.combined_lines):
            if line.buffer_name == "stderr" and line.line.strip():
                return line.line.strip()
        if self.timed_out:
            return "timed out"
        return f"exit status {self.exit_code}"

    @property
    def output_lines(self) -> list[str]:
        return [line.line for line in self.lines]

    @property
    def stdout_lines(self) -> list[str]:
        return [line.line for line in self.combined_lines if line.buffer_name == "stdout"]

    @property
    def stderr_lines(self) -> list[str]:
        return [line.line for line in self.lines if line.buffer_name == "stderr"]

    @property
    def stdout(self) -> str:
        return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)

    @property
    def output(self) -> str:
        return "\n".join(self.output_lines)


def split_combined_output(
    combined_output: Iterable[OutputLine] | CommandOutput,
) -> tuple[list[str], list[str]]:
    """Split interleaved lines into ``(stdout_lines, stderr_lines)``."""
    stdout: list[str] = []
    stderr: list[str] = []
    for item in combined_output:
        if item.buffer_name == "stdout":
            stdout.append(item.line)
        elif item.buffer_name == "stderr":
            stderr.append(item.line)
        else:
            raise ValueError(f"invalid output buffer name: {item.buffer_name!r}")
    return stdout, stderr


def decode_line(raw: bytes) -> str:
    """Decode one line; bytes that are not UTF-8 become U+FFFD instead of raising."""
    return raw.decode("utf-8", errors="replace")
