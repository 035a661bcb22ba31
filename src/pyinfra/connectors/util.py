"""Helpers shared by connectors (public API, names as in pyinfra 3.x)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pyinfra.api.arguments import (
    CONTROL_ARGUMENT_KEYS,
    ResolvedArguments,
    check_argument_type,
)
from pyinfra.api.command import StringCommand
from pyinfra.connectors._runner.command import Escalation, build_unix_command, make_unix_command
from pyinfra.connectors._runner.local import LocalProcess
from pyinfra.connectors._runner.loop import (
    LineCallback,
    kill_all_processes,
    run_process,
    stdin_bytes,
    stopped_counts,
)
from pyinfra.connectors._runner.markers import SUDO_PASSWORD_REQUIRED
from pyinfra.connectors.output import (
    PASSWORD_NEEDED,
    CommandOutput,
    OutputLine,
    split_combined_output,
)

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

output_logger = logging.getLogger("pyinfra.output")

Arguments = TypeVar("Arguments", dict[str, Any], ResolvedArguments)


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
    """The command line for ``command`` built exactly from the arguments given.

    ``--sudo``, ``_sudo`` in host data and the config defaults are resolved by the
    operation layer before they reach a connector: a connector that builds its own
    helper commands with this (``lxc ls``, ``rm -f TMP``) runs them as given, without
    sudo when the run has ``--sudo``. ``state`` and ``host`` are accepted for pyinfra
    3.x's signature."""
    return build_unix_command_for_host(state, host, command, **command_arguments).command


def build_unix_command_for_host(
    state: State | None,
    host: Host | None,
    command: str | StringCommand,
    **command_arguments: Any,
) -> Escalation:
    """``make_unix_command_for_host`` with the secret channel (prompt answers)."""
    for key, value in command_arguments.items():
        check_argument_type(key, value)
    arguments = ResolvedArguments.from_call(command_arguments)
    return build_unix_command(command, **arguments.command_arguments())


def sudo_password_needed(output: CommandOutput) -> bool:
    text = output.stderr
    return any(marker in text for marker in SUDO_PASSWORD_REQUIRED)


def execute_command_with_sudo_retry(
    host: Host,
    command_arguments: Arguments,
    execute_command: Callable[[Arguments], tuple[bool, CommandOutput]],
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
        output.fail(
            PASSWORD_NEEDED,
            "sudo needs a password: set _sudo_password / --sudo-password "
            "or allow NOPASSWD for this user",
        )
        return ok, output
    retry: Any
    if isinstance(command_arguments, ResolvedArguments):
        retry = command_arguments.replace(_sudo_password=password)
    else:
        retry = {**command_arguments, "_sudo_password": password}
    return execute_command(retry)


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


def run_local_process(
    command: str | list[str],
    stdin: Any = None,
    timeout: float | None = None,
    print_output: bool = False,
    print_prefix: str = "",
    success_exit_codes: tuple[int, ...] = (0,),
    get_pty: bool = False,
    env: Mapping[str, str] | None = None,
) -> tuple[int, CommandOutput]:
    """Run a command on this machine through the shared loop; ``(returncode, output)``.

    A string is run by ``sh -c``; a list is run as argv. On timeout the whole process
    group is killed and the return code is -9.
    """
    argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
    process = LocalProcess(argv, get_pty=get_pty, env=dict(env) if env is not None else None)
    _, output = run_process(
        process,
        stdin=stdin_bytes(stdin),
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
    "stopped_counts",
    "make_line_logger",
    "log_command",
    "stdin_bytes",
]
