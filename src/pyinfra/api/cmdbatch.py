"""Running an operation's consecutive shell commands in one round trip.

Each command runs in a subshell of its own (its ``cd``, ``exit`` and variables stay
with it), in order, and the first that fails stops the rest, as when they run one by
one. After each command a marker line with a random token and its exit status goes to
stdout (and a marker to stderr), so each command gets back its own output and status.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.connectors.output import CommandOutput, OutputLine

# Arguments that give a command behaviour of its own: such commands run alone.
_ALONE = ("_timeout", "_stdin", "_get_pty", "_success_exit_codes")


def can_batch(command: Any, connector_kwargs: dict[str, Any]) -> bool:
    """A shell command that may share a round trip with its neighbours."""
    if not isinstance(command, StringCommand) or command.connector_arguments:
        return False
    if any(key in connector_kwargs for key in _ALONE):
        return False
    return "_shell_executable" not in connector_kwargs or bool(
        connector_kwargs["_shell_executable"]
    )


def script(
    commands: Iterable[StringCommand], token: str, stdin_for: int | None = None
) -> StringCommand:
    """The batch script. ``stdin_for``: the index of the one command that reads the
    batch's stdin (an upload's data); the others then read nothing (``/dev/null``)."""
    bits: list[Any] = []
    for index, command in enumerate(commands):
        # the newline ends a comment the command may end with
        closed = "</dev/null;" if stdin_for is not None and index != stdin_for else ";"
        bits += ["(", command, "\n)" + closed, "__pyinfra_rc=$?;"]
        bits += ["printf", f"'\\n{token} {index} %d\\n'", '"$__pyinfra_rc";']
        bits += ["printf", f"'\\n{token} {index}\\n'", ">&2;"]
        bits += ["[", '"$__pyinfra_rc"', "-eq", "0", "]", "||", "exit", '"$__pyinfra_rc";']
    return StringCommand(*bits)


@dataclass
class Part:
    """What one command of the batch printed, and how it ended (``None``: not run)."""

    stdout: list[str]
    stderr: list[str]
    exit_code: int | None


Chunks = list[tuple[list[str], re.Match[str]]]


def cut_at_markers(lines: list[str], marker: re.Pattern[str]) -> tuple[Chunks, list[str]]:
    """The lines before each marker (with its match), and what follows the last one
    (also used for the fact batches of :mod:`pyinfra.api.factbatch`)."""
    chunks: Chunks = []
    current: list[str] = []
    for line in lines:
        found = marker.match(line)
        if found is None:
            current.append(line)
            continue
        if current and current[-1] == "":
            current.pop()  # the newline the marker's printf started with
        chunks.append((current, found))
        current = []
    return chunks, current


def split(output: CommandOutput, token: str, count: int) -> list[Part]:
    """One :class:`Part` per command, in order; commands after a failed one are not."""
    return split_with_rest(output, token, count)[0]


def split_with_rest(
    output: CommandOutput, token: str, count: int
) -> tuple[list[Part], CommandOutput]:
    """:func:`split`, and what the script printed after the last command's markers
    (the output of a command that followed the batch in the same script)."""
    out_marker = re.compile(rf"^{re.escape(token)} (\d+) (\d+)$")
    err_marker = re.compile(rf"^{re.escape(token)} (\d+)$")
    stdout, rest_out = cut_at_markers(output.stdout_lines, out_marker)
    stderr_chunks, rest_err = cut_at_markers(output.stderr_lines, err_marker)
    stderr = {int(m.group(1)): lines for lines, m in stderr_chunks}
    parts = [Part(lines, stderr.get(int(m.group(1)), []), int(m.group(2))) for lines, m in stdout]
    stopped = bool(parts) and parts[-1].exit_code != 0
    rest = CommandOutput(
        [OutputLine("stdout", line) for line in rest_out]
        + [OutputLine("stderr", line) for line in rest_err],
        exit_code=output.exit_code,
        failure=output.failure,
    )
    if len(parts) < count and not stopped:
        # The command that did not reach its marker (killed, lost connection...): what
        # is left of the output is its, and it failed as the whole batch did.
        parts.append(Part(rest_out, rest_err, output.exit_code or 1))
        rest = CommandOutput([], exit_code=output.exit_code or 1, failure=output.failure)
    return parts[:count], rest


def part_output(part: Part, whole: CommandOutput) -> CommandOutput:
    lines = [OutputLine("stdout", line) for line in part.stdout]
    lines += [OutputLine("stderr", line) for line in part.stderr]
    failure = whole.failure if part.exit_code != 0 else None
    return CommandOutput(lines, exit_code=part.exit_code, failure=failure)


def new_token() -> str:
    return f"__pyinfra_cmd_{secrets.token_hex(8)}__"
