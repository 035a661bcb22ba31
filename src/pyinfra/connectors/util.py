"""Helpers shared by connectors (public API, names as in pyinfra 3.x)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyinfra.api.arguments import (
    CONTROL_ARGUMENT_KEYS,
    check_argument_type,
    resolve_connector_arguments,
)
from pyinfra.api.command import StringCommand
from pyinfra.connectors._runner.command import (
    SUDO_PASSWORD_REQUIRED,
    Escalation,
    build_unix_command,
    make_unix_command,
)
from pyinfra.connectors._runner.local import LocalProcess
from pyinfra.connectors._runner.loop import LineCallback, kill_all_processes, run_process
from pyinfra.connectors.output import CommandOutput, OutputLine, split_combined_output

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

output_logger = logging.getLogger("pyinfra.output")


def extract_control_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Pop the control arguments (exit codes, timeout, pty, stdin) and return them."""
    control: dict[str, Any] = {}
    for key in CONTROL_ARGUMENT_KEYS:
        if key in arguments:
            control[key] = arguments.pop(key)
    return control


def make_unix_command_for_host(
    state: State | None,
    host: Host | None,
    command: str | StringCommand,
    **command_arguments: Any,
) -> StringCommand:
    """``make_unix_command`` with defaults from the host's data and the state's config."""
    return build_unix_command_for_host(state, host, command, **command_arguments).command


def build_unix_command_for_host(
    state: State | None,
    host: Host | None,
    command: str | StringCommand,
    **command_arguments: Any,
) -> Escalation:
    config = state.config if state is not None else None
    if host is not None and config is None and host.state is not None:
        config = host.state.config
    for key, value in command_arguments.items():
        check_argument_type(key, value)
    resolved = dict(resolve_connector_arguments(host, config, command_arguments))
    for key in CONTROL_ARGUMENT_KEYS:
        resolved.pop(key, None)
    return build_unix_command(command, **resolved)


def sudo_password_needed(output: CommandOutput) -> bool:
    text = output.stderr
    return any(marker in text for marker in SUDO_PASSWORD_REQUIRED)


def execute_command_with_sudo_retry(
    host: Host,
    command_arguments: dict[str, Any],
    execute_command: Callable[..., tuple[bool, CommandOutput]],
) -> tuple[bool, CommandOutput]:
    """Run ``execute_command``; if sudo wanted a password that was not given, ask once
    (per run, through the state's password prompter) and retry with it."""
    ok, output = execute_command(command_arguments)
    if ok or not command_arguments.get("_sudo") or command_arguments.get("_sudo_password"):
        return ok, output
    if not sudo_password_needed(output):
        return ok, output
    state = host.state
    password = state.ask_sudo_password(host) if state is not None else None
    if not password:
        output.combined_lines.append(
            OutputLine(
                "stderr",
                "pyinfra: sudo needs a password: set _sudo_password / --sudo-password "
                "or allow NOPASSWD for this user",
            )
        )
        return ok, output
    retry_arguments = dict(command_arguments)
    retry_arguments["_sudo_password"] = password
    return execute_command(retry_arguments)


def make_line_logger(host_name: str, print_output: bool) -> LineCallback | None:
    """A callback that sends each output line to the ``pyinfra.output`` logger."""
    if not print_output:
        return None

    def log_line(line: OutputLine) -> None:
        output_logger.info("%s", line.line, extra={"host": host_name, "buffer": line.buffer_name})

    return log_line


def log_command(host_name: str, command: StringCommand | str, print_input: bool) -> None:
    if print_input:
        text = command.get_masked_value() if isinstance(command, StringCommand) else command
        output_logger.info("$ %s", text, extra={"host": host_name, "buffer": "input"})


def _stdin_bytes(stdin: Any) -> bytes | None:
    if stdin is None:
        return None
    if isinstance(stdin, bytes):
        return stdin
    if isinstance(stdin, str):
        return stdin.encode()
    lines = [line.encode() if isinstance(line, str) else bytes(line) for line in stdin]
    return b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)


def run_local_process(
    command: str | list[str],
    stdin: Any = None,
    timeout: float | None = None,
    print_output: bool = False,
    print_prefix: str = "",
    success_exit_codes: tuple[int, ...] = (0,),
    get_pty: bool = False,
    env: dict[str, str] | None = None,
) -> tuple[int, CommandOutput]:
    """Run a command on this machine through the shared loop; ``(returncode, output)``.

    A string is run by ``sh -c``; a list is run as argv. On timeout the whole process
    group is killed and the return code is -9.
    """
    argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
    process = LocalProcess(argv, get_pty=get_pty, env=env)
    _, output = run_process(
        process,
        stdin=_stdin_bytes(stdin),
        timeout=timeout,
        success_exit_codes=success_exit_codes,
        on_line=make_line_logger(print_prefix or "@local", print_output),
    )
    returncode = output.exit_code if output.exit_code is not None else -9
    return returncode, output


__all__ = [
    "CommandOutput",
    "OutputLine",
    "split_combined_output",
    "make_unix_command",
    "make_unix_command_for_host",
    "build_unix_command_for_host",
    "execute_command_with_sudo_retry",
    "extract_control_arguments",
    "run_local_process",
    "kill_all_processes",
    "make_line_logger",
    "log_command",
]
