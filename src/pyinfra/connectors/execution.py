"""ExecutionConnector: a BaseConnector for targets reached by starting a process.

Subclasses implement :meth:`start_process` (and may override file transfer with a
faster native path). Command building, escalation, password prompts, timeouts,
output capture, sudo retry and stdin/stdout file transfer are all done here, once.
"""

from __future__ import annotations

import abc
import logging
from typing import IO, Any

from typing_extensions import Unpack

from pyinfra.api.arguments import ConnectorArguments, resolve_connector_arguments
from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import TransferError
from pyinfra.connectors._runner.command import build_unix_command
from pyinfra.connectors._runner.loop import Process, run_process
from pyinfra.connectors._runner.transfer import (
    DownloadTarget,
    download_command,
    new_upload_token,
    open_sized_upload_source,
    upload_cleanup_command,
    upload_command,
)
from pyinfra.connectors.base import BaseConnector
from pyinfra.connectors.output import CommandOutput
from pyinfra.connectors.util import (
    _stdin_bytes,
    execute_command_with_sudo_retry,
    extract_control_arguments,
    log_command,
    make_line_logger,
)

logger = logging.getLogger("pyinfra")


class ExecutionConnector(BaseConnector):
    """Base for connectors that run commands by starting a process on the target."""

    handles_execution = True

    @abc.abstractmethod
    def start_process(self, command: str, get_pty: bool) -> Process:
        """Start ``command`` (a full shell command line) on the target."""

    def describe_target(self) -> str:
        return self.host.name

    def _resolve(self, arguments: dict[str, Any]) -> dict[str, Any]:
        return dict(resolve_connector_arguments(self.host, self.state.config, arguments))

    def run_shell_command(
        self,
        command: StringCommand | str,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> tuple[bool, CommandOutput]:
        return self._run(command, print_output, print_input, dict(arguments))

    def _run(
        self,
        command: StringCommand | str,
        print_output: bool,
        print_input: bool,
        arguments: dict[str, Any],
        stdin: Any = None,
        stdout_sink: Any = None,
    ) -> tuple[bool, CommandOutput]:
        resolved = self._resolve(arguments)
        control = extract_control_arguments(resolved)
        for key in ("_retries", "_retry_delay", "_retry_until"):
            resolved.pop(key, None)
        data = stdin if stdin is not None else _stdin_bytes(control.get("_stdin"))

        attempts: list[int] = []

        def execute(args: dict[str, Any]) -> tuple[bool, CommandOutput]:
            escalation = build_unix_command(command, **args)
            if attempts and data is not None and not isinstance(data, bytes):
                # A retry (sudo password) must send the input again from its start;
                # rewind before anything starts so a failure here runs nothing.
                try:
                    data.seek(0)
                except (OSError, ValueError, AttributeError) as exc:
                    raise TransferError(
                        f"{self.host.name}: cannot send the input again for the retry: {exc}"
                    ) from exc
            attempts.append(1)
            log_command(self.host.name, escalation.command, print_input)
            get_pty = bool(control.get("_get_pty")) or escalation.needs_pty
            process = self.start_process(escalation.command.get_raw_value(), get_pty)
            return run_process(
                process,
                stdin=data,
                timeout=control.get("_timeout"),
                success_exit_codes=tuple(control.get("_success_exit_codes") or (0,)),
                on_line=make_line_logger(self.host.name, print_output),
                responders=escalation.responders,
                wait_for_ready=escalation.wait_for_ready,
                stdout_sink=stdout_sink,
            )

        return execute_command_with_sudo_retry(self.host, resolved, execute)

    # Files -----------------------------------------------------------------

    def native_put_file(
        self, filename_or_io: str | IO[Any], remote_filename: str, arguments: dict[str, Any]
    ) -> bool:
        """Upload without a command when the target allows a faster way (a local copy).

        Return False to use the streamed upload; a native path must keep the same
        guarantees (atomic replace, temp removed, ``TransferError`` on failure).
        """
        return False

    def native_get_file(
        self, remote_filename: str, filename_or_io: str | IO[Any], arguments: dict[str, Any]
    ) -> bool:
        """Download without a command when possible; False uses the streamed download."""
        return False

    def put_file(
        self,
        filename_or_io: str | IO[Any],
        remote_filename: str,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        """Stream the file into the target through ``cat`` and replace atomically."""
        if self.native_put_file(filename_or_io, remote_filename, dict(arguments)):
            return True
        args = dict(arguments)
        args.pop("_stdin", None)
        args.pop("_get_pty", None)
        token = new_upload_token()
        try:
            with open_sized_upload_source(filename_or_io) as (source, size):
                ok, output = self._run(
                    upload_command(remote_filename, size, token),
                    print_output,
                    print_input,
                    args,
                    stdin=source,
                )
        except OSError as exc:
            raise TransferError(
                f"{self.host.name}: cannot read upload source {filename_or_io!r}: {exc}"
            ) from exc
        if not ok:
            # The upload may have been killed before its own cleanup ran.
            cleanup = {k: v for k, v in args.items() if k != "_timeout"}
            self._run(upload_cleanup_command(remote_filename, token), False, False, cleanup)
            raise TransferError(
                f"{self.host.name}: upload to {remote_filename} failed: "
                f"{_last_error(output)} (target left unchanged)"
            )
        return True

    def get_file(
        self,
        remote_filename: str,
        filename_or_io: str | IO[Any],
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        """Stream the remote file out through ``cat``; local targets replaced atomically."""
        if self.native_get_file(remote_filename, filename_or_io, dict(arguments)):
            return True
        args = dict(arguments)
        args.pop("_stdin", None)
        args.pop("_get_pty", None)
        with DownloadTarget(filename_or_io) as write:
            ok, output = self._run(
                download_command(remote_filename),
                print_output,
                print_input,
                args,
                stdout_sink=write,
            )
            if not ok:
                raise TransferError(
                    f"{self.host.name}: download of {remote_filename} failed: {_last_error(output)}"
                )
        return True


def _last_error(output: CommandOutput) -> str:
    lines = [line for line in output.stderr_lines if line.strip()]
    if lines:
        return lines[-1]
    return f"exit status {output.exit_code}"
