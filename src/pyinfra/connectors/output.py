"""CommandOutput and OutputLine: what a command printed, in arrival order."""

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


class CommandOutput:
    """The lines of one command, both streams interleaved in the order they arrived."""

    def __init__(
        self,
        combined_lines: Iterable[OutputLine] | None = None,
        exit_code: int | None = None,
        timed_out: bool = False,
        *,
        stdout_lines: Iterable[str] | None = None,
        stderr_lines: Iterable[str] | None = None,
    ) -> None:
        """``CommandOutput(lines)``, or ``CommandOutput(stdout_lines=[...],
        stderr_lines=[...])`` when the order across the two streams is not known."""
        self.combined_lines: list[OutputLine] = list(combined_lines or [])
        self.combined_lines += [OutputLine("stdout", line) for line in stdout_lines or []]
        self.combined_lines += [OutputLine("stderr", line) for line in stderr_lines or []]
        self.exit_code = exit_code
        self.timed_out = timed_out

    def __iter__(self) -> Iterator[OutputLine]:
        return iter(self.combined_lines)

    def __len__(self) -> int:
        return len(self.combined_lines)

    def __repr__(self) -> str:
        return (
            f"CommandOutput(exit_code={self.exit_code}, lines={len(self.combined_lines)}"
            f"{', timed_out' if self.timed_out else ''})"
        )

    @property
    def output_lines(self) -> list[str]:
        return [line.line for line in self.combined_lines]

    @property
    def stdout_lines(self) -> list[str]:
        return [line.line for line in self.combined_lines if line.buffer_name == "stdout"]

    @property
    def stderr_lines(self) -> list[str]:
        return [line.line for line in self.combined_lines if line.buffer_name == "stderr"]

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
