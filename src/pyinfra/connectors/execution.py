"""ExecutionConnector: a BaseConnector for targets reached by starting a process.

Subclasses implement :meth:`~ExecutionConnector.start_process`, which receives a
:class:`ProcessRequest` and returns a started :class:`Process`. Everything else is done
here, once: the command line (env, chdir, shell, sudo/su/doas), password prompts and
the sudo-password retry, timeouts and kills, output capture and logging, and file
transfer through the command's stdin/stdout (a subclass may offer a faster native path
with :meth:`~ExecutionConnector.native_put_file` / :meth:`~ExecutionConnector.native_get_file`).

A connector builds exactly from the arguments it is given: ``--sudo``, host data and
config defaults are resolved before (``Host.run_shell_command`` does it).
"""

from __future__ import annotations

import abc
import contextlib
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from typing_extensions import Unpack

from pyinfra.api.arguments import ConnectorArguments, ResolvedArguments
from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import ConnectError, TransferError
from pyinfra.connectors._runner.local import LocalProcess
from pyinfra.connectors._runner.loop import (
    LineCallback,
    StdinData,
    run_process,
    stdin_bytes,
    tracked_transfer,
)
from pyinfra.connectors._runner.process import Process
from pyinfra.connectors._runner.request import ProcessRequest
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
    execute_command_with_sudo_retry,
    log_command,
    make_line_logger,
)

if TYPE_CHECKING:
    from pyinfra.api.host import Host

logger = logging.getLogger("pyinfra")


_owner = threading.local()  # the transfer this thread runs, for the commands it starts


class _Activity:
    """What one connector has in flight: the processes of its commands and the number
    of transfers running, so that a disconnect can stop them and wait for their
    cleanup (a transfer removes its temp file) before the connection goes."""

    def __init__(self) -> None:
        self.processes: set[Process] = set()
        self.transfers = 0
        self.cond = threading.Condition()

    @contextlib.contextmanager
    def transfer(self, stop: Callable[[], None]) -> Iterator[None]:
        """One transfer in flight; ``stop`` makes it stop (Ctrl-C). The commands it runs
        from this thread belong to it (an interrupt counts the transfer, once)."""
        with self.cond:
            self.transfers += 1
        try:
            with tracked_transfer(stop) as token:
                _owner.token = token
                yield
        finally:
            _owner.token = None
            with self.cond:
                self.transfers -= 1
                self.cond.notify_all()

    def wait_for_transfers(self, timeout: float) -> bool:
        """Whether every transfer has ended within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.transfers and time.monotonic() < deadline:
                self.cond.wait(max(0.0, deadline - time.monotonic()))
            return not self.transfers


class ExecutionConnector(BaseConnector):
    """Base for connectors that run commands by starting a process on the target."""

    batches_shell_commands = True  # every command runs through the target's shell

    handles_execution = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        start = cls.__dict__.get("start_process")
        if start is not None and len(inspect.signature(start).parameters) == 3:
            cls.start_process = _from_command_and_pty(start)  # type: ignore[method-assign,assignment]

    @abc.abstractmethod
    def start_process(self, request: ProcessRequest) -> Process:
        """Start ``request.command`` (a full shell command line: ``request.raw``, or
        ``request.argv`` for a wrapper that runs an argv) on the target; on a terminal
        when ``request.pty``. The older form ``start_process(self, command, get_pty)``
        is still accepted."""

    def _activity(self) -> _Activity:
        activity: _Activity | None = self.__dict__.get("_in_flight")
        if activity is None:
            activity = self.__dict__.setdefault("_in_flight", _Activity())
        return activity

    def stop_activity(self, timeout: float) -> bool:
        """Before disconnecting: stop the transfers in flight (:meth:`abort_transfers`),
        kill the commands still running, and wait up to ``timeout`` seconds for the
        transfers to end (and so to remove their temp files). Whether they all did."""
        activity = self._activity()
        with activity.cond:
            busy = bool(activity.transfers or activity.processes)
            processes = list(activity.processes)
        if not busy:
            return True
        self.abort_transfers()
        for process in processes:
            try:
                process.kill()
            except Exception as exc:  # noqa: BLE001 - a connector's kill: go on with the rest
                logger.warning("%s: could not kill a running command: %s", self.host.name, exc)
        return activity.wait_for_transfers(timeout)

    def abort_transfers(self) -> None:
        """Make the native transfers in flight stop (they raise ``TransferError`` and
        clean up). Streamed transfers stop when their command is killed."""

    # Commands --------------------------------------------------------------

    def run_shell_command(
        self,
        command: StringCommand | str,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> tuple[bool, CommandOutput]:
        return self.execute(
            command,
            ResolvedArguments.from_call(arguments),
            print_output=print_output,
            print_input=print_input,
        )

    def execute(
        self,
        command: StringCommand | str,
        arguments: ResolvedArguments,
        *,
        print_output: bool = False,
        print_input: bool = False,
        stdin: StdinData = None,
        stdout_sink: Callable[[bytes], Any] | None = None,
        on_line: LineCallback | None = None,
        keep_output: bool = True,
    ) -> tuple[bool, CommandOutput]:
        """Run ``command`` with resolved ``arguments``; ``stdin`` (bytes or a binary
        stream) overrides ``_stdin``, ``stdout_sink`` receives stdout as raw bytes.

        ``on_line`` receives each line as it arrives (instead of the ``pyinfra.output``
        logger of ``print_output``); with ``keep_output=False`` the lines are not kept
        (the output holds only the last ones): memory stays bounded whatever the
        command prints."""
        data = stdin if stdin is not None else stdin_bytes(arguments.stdin)
        attempts: list[ProcessRequest] = []
        activity = self._activity()
        line_callback = on_line or make_line_logger(self.host.name, print_output)

        def attempt(args: ResolvedArguments) -> tuple[bool, CommandOutput]:
            if attempts and data is not None and not isinstance(data, bytes):
                # A retry (sudo password) must send the input again from its start;
                # rewind before anything starts so a failure here runs nothing.
                try:
                    data.seek(0)
                except (OSError, ValueError, AttributeError) as exc:
                    raise TransferError(
                        f"{self.host.name}: cannot send the input again for the retry: {exc}"
                    ) from exc
            request = ProcessRequest.build(command, args, has_input=data is not None)
            attempts.append(request)
            log_command(self.host.name, request.command, print_input)
            process = self.start_process(request)
            with activity.cond:
                activity.processes.add(process)
            try:
                return run_process(
                    process,
                    stdin=data,
                    timeout=args.timeout,
                    success_exit_codes=args.success_exit_codes,
                    on_line=line_callback,
                    responders=request.responders,
                    wait_for_ready=request.escalation.wait_for_ready,
                    stdout_sink=stdout_sink,
                    keep_output=keep_output,
                    owner=getattr(_owner, "token", None),
                )
            finally:
                with activity.cond:
                    activity.processes.discard(process)

        return execute_command_with_sudo_retry(self.host, arguments, attempt)

    # Files -----------------------------------------------------------------

    def native_put_file(
        self, filename_or_io: str | IO[Any], remote_filename: str, arguments: ResolvedArguments
    ) -> bool:
        """Upload without a command when the target allows a faster way (a local copy,
        sftp). Return False to use the streamed upload; a native path must keep the same
        guarantees (atomic replace, temp removed, ``TransferError`` on failure)."""
        return False

    def native_get_file(
        self, remote_filename: str, filename_or_io: str | IO[Any], arguments: ResolvedArguments
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
        """Upload natively when the connector can, else through the command's stdin."""
        args = _transfer_arguments(arguments)
        with self._activity().transfer(self.abort_transfers):
            if self.native_put_file(filename_or_io, remote_filename, args):
                return True
            return self.stream_put_file(
                filename_or_io, remote_filename, args, print_output, print_input
            )

    def get_file(
        self,
        remote_filename: str,
        filename_or_io: str | IO[Any],
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        """Download natively when the connector can, else through the command's stdout."""
        args = _transfer_arguments(arguments)
        with self._activity().transfer(self.abort_transfers):
            if self.native_get_file(remote_filename, filename_or_io, args):
                return True
            return self.stream_get_file(
                remote_filename, filename_or_io, args, print_output, print_input
            )

    def stream_put_file(
        self,
        filename_or_io: str | IO[Any],
        remote_filename: str,
        arguments: ResolvedArguments,
        print_output: bool = False,
        print_input: bool = False,
    ) -> bool:
        """Stream the file into the target through ``cat`` and replace atomically."""
        token = new_upload_token()
        try:
            with open_sized_upload_source(filename_or_io) as (source, size):
                ok, output = self.execute(
                    upload_command(remote_filename, size, token),
                    arguments,
                    print_output=print_output,
                    print_input=print_input,
                    stdin=source,
                )
        except ConnectError as exc:  # the connection went away: one line, as a transfer error
            self._cleanup_upload(remote_filename, token, arguments)
            detail = str(exc).removeprefix(f"{self.host.name}: ")
            raise TransferError(
                f"{self.host.name}: upload to {remote_filename} failed: {detail} "
                "(target left unchanged)"
            ) from None
        except OSError as exc:
            raise TransferError(
                f"{self.host.name}: cannot read upload source {filename_or_io!r}: {exc}"
            ) from exc
        if not ok:
            # The upload may have been killed before its own cleanup ran.
            self._cleanup_upload(remote_filename, token, arguments)
            raise TransferError(
                f"{self.host.name}: upload to {remote_filename} failed: "
                f"{output.failure_line()} (target left unchanged)"
            )
        return True

    def _cleanup_upload(self, remote: str, token: str, arguments: ResolvedArguments) -> None:
        command = upload_cleanup_command(remote, token)
        cleanup_arguments = arguments.replace(_timeout=None)
        try:
            self.execute(command, cleanup_arguments)
        except ConnectError as exc:
            if not self.defer_cleanup(command, cleanup_arguments):
                logger.warning("%s: could not remove the temp file of the failed upload to %s: "
                               "%s", self.host.name, remote, exc)  # fmt: skip

    def defer_cleanup(self, command: StringCommand, arguments: ResolvedArguments) -> bool:
        """Run ``command`` (a transfer's cleanup) at the next connection, because the
        connection is gone now; whether the connector can (SSH can)."""
        return False

    def stream_get_file(
        self,
        remote_filename: str,
        filename_or_io: str | IO[Any],
        arguments: ResolvedArguments,
        print_output: bool = False,
        print_input: bool = False,
    ) -> bool:
        """Stream the remote file out through ``cat``; local targets replaced atomically."""
        with DownloadTarget(filename_or_io) as write:
            ok, output = self.execute(
                download_command(remote_filename),
                arguments,
                print_output=print_output,
                print_input=print_input,
                stdout_sink=write,
            )
            if not ok:
                raise TransferError(
                    f"{self.host.name}: download of {remote_filename} failed: "
                    f"{output.failure_line()}"
                )
        return True


def run_streamed(
    host: Host, command: StringCommand | str, on_line: LineCallback, print_input: bool = False
) -> tuple[bool, CommandOutput]:
    """Run ``command`` on a connected ``host`` with its arguments resolved as
    ``host.run_shell_command`` does, handing each output line to ``on_line`` as it
    arrives and keeping only the last ones: memory stays bounded whatever it prints.

    A connector that does not start processes (``@fake``, a 3.x-style one) runs it its
    own way; ``on_line`` then gets its lines once it has ended."""
    connector = host.connector
    if not isinstance(connector, ExecutionConnector):
        ok, output = host.run_shell_command(command, print_input=print_input)
        for line in output.combined_lines:
            on_line(line)
        return ok, output
    arguments = ResolvedArguments.for_host(host, {})
    return connector.execute(
        command, arguments, print_input=print_input, on_line=on_line, keep_output=False
    )


def _transfer_arguments(arguments: Any) -> ResolvedArguments:
    """A transfer's arguments: the control arguments of the operation it belongs to are
    not its own (its stdin is the data, it needs no pty, its commands succeed with 0)."""
    return ResolvedArguments.from_call(arguments).replace(
        _stdin=None, _get_pty=False, _success_exit_codes=(0,)
    )


def _from_command_and_pty(
    start: Callable[[Any, str, bool], Process],
) -> Callable[[Any, ProcessRequest], Process]:
    """Adapt a ``start_process(self, command, get_pty)`` of the earlier seam."""

    def start_process(self: Any, request: ProcessRequest) -> Process:
        return start(self, request.raw, request.pty)

    start_process.__doc__ = start.__doc__
    return start_process


# What a connector needs besides ExecutionConnector: the request it gets, the Process
# protocol it returns, and LocalProcess for targets reached through a local command
# (``chroot DIR ...``, ``lxc exec NAME -- ...``).
__all__ = ["ExecutionConnector", "LocalProcess", "Process", "ProcessRequest", "run_streamed"]
