"""The SSH connector (the default: a plain host name in an inventory goes here).

One paramiko transport per host for the whole run (``TCP_NODELAY``, keepalive), one
channel per command, so commands from several threads run side by side safely.
Everything about running a command (sudo/su, env, chdir, timeout, stdin, prompts)
is the shared :class:`~pyinfra.connectors.execution.ExecutionConnector`; this module
only starts processes on channels and moves files.

Pieces: :mod:`.sshsettings` (data keys + ssh_config), :mod:`.sshconnect` (connect,
proxies, auth, retries), :mod:`.sshprocess` (a command on a channel, and killing it),
:mod:`.sshtransfer` (sftp/scp, escalated uploads), :mod:`.sshforward` (port forwarding).

Port forwarding::

    with host.connector.forward_port("db.internal", 5432) as forward:
        psycopg.connect(host="127.0.0.1", port=forward.local_port)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import paramiko
from typing_extensions import Unpack

from pyinfra.api.arguments import ConnectorArguments
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import ConnectError, InventoryError
from pyinfra.connectors._runner.command import build_unix_command
from pyinfra.connectors._runner.loop import Process, run_process
from pyinfra.connectors.execution import ExecutionConnector
from pyinfra.connectors.output import CommandOutput, OutputLine
from pyinfra.connectors.ssh.connect import SSHConnection, open_connection
from pyinfra.connectors.ssh.forward import PortForward
from pyinfra.connectors.ssh.process import KILL_SCRIPT, SSHProcess
from pyinfra.connectors.ssh.settings import (
    SSH_DATA_META,
    SSHConnectorData,
    SSHSettings,
    resolve_settings,
)
from pyinfra.connectors.ssh.transfer import SSHFileTransfer

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State

# Escalation arguments reused to kill an escalated command's processes.
_KILL_KEYS = (
    "_sudo",
    "_sudo_user",
    "_sudo_password",
    "_su_user",
    "_su_password",
    "_su_shell",
    "_doas",
    "_doas_user",
)
_KILL_TIMEOUT = 15.0


class SSHConnector(ExecutionConnector):
    """Connects to hosts over SSH with paramiko."""

    handles_execution = True
    data_cls = SSHConnectorData
    data_meta = SSH_DATA_META

    def __init__(self, state: State, host: Host) -> None:
        super().__init__(state, host)
        self._lock = threading.RLock()
        self._connection: SSHConnection | None = None
        self._transfer: SSHFileTransfer | None = None
        self._forwards: list[PortForward] = []
        self._local = threading.local()

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        if not name:
            raise InventoryError("@ssh needs a host name: use @ssh/HOSTNAME or just HOSTNAME")
        yield name, {}, []

    # -- connection ----------------------------------------------------------------------

    def settings(self) -> SSHSettings:
        """This host's connection settings (data, then ssh_config, then defaults)."""
        return resolve_settings(self.host.name, self.data, float(self.state.config.CONNECT_TIMEOUT))

    def connect(self) -> None:
        with self._lock:
            if self._connection is not None and self._connection.active:
                return
            self._close_connection()
            connection = open_connection(self.settings())
            self._connection = connection
            self._transfer = SSHFileTransfer(self, connection)

    def disconnect(self) -> None:
        with self._lock:
            for forward in list(self._forwards):
                forward.close()
            self._forwards.clear()
            self._close_connection()

    def _close_connection(self) -> None:
        transfer, self._transfer = self._transfer, None
        if transfer is not None:
            transfer.close()
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    @property
    def connection(self) -> SSHConnection:
        connection = self._connection
        if connection is None:
            raise ConnectError(f"{self.host.name}: not connected (call host.connect() first)")
        return connection

    @property
    def transport(self) -> paramiko.Transport:
        """The host's paramiko transport (for advanced use: channels, subsystems)."""
        return self.connection.transport

    @property
    def file_transfer(self) -> SSHFileTransfer:
        transfer = self._transfer
        if transfer is None:
            raise ConnectError(f"{self.host.name}: not connected (call host.connect() first)")
        return transfer

    # -- commands ------------------------------------------------------------------------

    def start_process(self, command: str, get_pty: bool) -> Process:
        connection = self.connection
        arguments = dict(getattr(self._local, "arguments", None) or {})

        def killer(pid: int) -> None:
            self._kill_remote(connection, pid, self._kill_arguments(arguments))

        return SSHProcess(
            connection.transport,
            command,
            get_pty,
            name=self.host.name,
            timeout=connection.settings.connect_timeout,
            forward_agent=connection.settings.forward_agent,
            killer=killer,
            login_sh=connection.login_shell == "sh",
            on_login_shell=connection.learn_login_shell if connection.login_shell is None else None,
        )

    def _run(
        self,
        command: StringCommand | str,
        print_output: bool,
        print_input: bool,
        arguments: dict[str, Any],
        stdin: Any = None,
        stdout_sink: Any = None,
    ) -> tuple[bool, CommandOutput]:
        previous = getattr(self._local, "arguments", None)
        self._local.arguments = arguments
        try:
            ok, output = super()._run(
                command, print_output, print_input, arguments, stdin, stdout_sink
            )
        finally:
            self._local.arguments = previous
        connection = self._connection
        if not ok and connection is not None and not connection.active:
            output.combined_lines.append(
                OutputLine(
                    "stderr",
                    f"pyinfra: the SSH connection to {self.host.name} was lost during the command",
                )
            )
        return ok, output

    def _kill_arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The escalation the command ran with, to kill its processes as their owner."""
        resolved = self._resolve(dict(arguments))
        out = {key: resolved.get(key) for key in _KILL_KEYS}
        if out.get("_sudo") and not out.get("_sudo_password"):
            asked = getattr(self.state, "_sudo_password", None)
            if asked:
                out["_sudo_password"] = asked
        return out

    def _kill_remote(self, connection: SSHConnection, pid: int, escalation: dict[str, Any]) -> None:
        """Kill the process tree of ``pid`` on the target (as the user that owns it)."""
        if not connection.active:
            return
        command = StringCommand(
            "sh", "-c", QuoteString(KILL_SCRIPT), "pyinfra-kill", QuoteString(str(pid))
        )
        escalated = any(escalation.get(k) for k in ("_sudo", "_su_user", "_doas"))
        if escalated:
            built = build_unix_command(command, **{**escalation, "_shell_executable": None})
            raw, responders, pty = built.command.get_raw_value(), built.responders, built.needs_pty
        else:
            raw, responders, pty = command.get_raw_value(), [], False
        process = SSHProcess(
            connection.transport,
            raw,
            pty,
            name=self.host.name,
            timeout=connection.settings.connect_timeout,
        )
        ok, output = run_process(process, timeout=_KILL_TIMEOUT, responders=responders)
        if not ok:
            raise ConnectError(
                f"{self.host.name}: kill failed: {output.stderr or output.exit_code}"
            )

    # -- files ---------------------------------------------------------------------------

    def put_file(
        self,
        filename_or_io: str | IO[Any],
        remote_filename: str,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        return self.file_transfer.put(
            filename_or_io, remote_filename, dict(arguments), print_output, print_input
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
        return self.file_transfer.get(
            remote_filename, filename_or_io, dict(arguments), print_output, print_input
        )

    def stream_put_file(
        self,
        filename_or_io: str | IO[Any],
        remote_filename: str,
        arguments: dict[str, Any],
        print_output: bool = False,
        print_input: bool = False,
    ) -> bool:
        """Upload through the (escalated) command's stdin: the generic path."""
        return ExecutionConnector.put_file(
            self, filename_or_io, remote_filename, None, print_output, print_input, **arguments
        )

    def stream_get_file(
        self,
        remote_filename: str,
        filename_or_io: str | IO[Any],
        arguments: dict[str, Any],
        print_output: bool = False,
        print_input: bool = False,
    ) -> bool:
        """Download through the (escalated) command's stdout: the generic path."""
        return ExecutionConnector.get_file(
            self, remote_filename, filename_or_io, None, print_output, print_input, **arguments
        )

    def run_command(
        self, command: StringCommand | str, arguments: dict[str, Any]
    ) -> tuple[bool, CommandOutput]:
        """Run a command with connector arguments (used by the file transfer)."""
        return self._run(command, False, False, dict(arguments))

    # -- port forwarding -----------------------------------------------------------------

    def forward_port(
        self,
        remote_host: str,
        remote_port: int,
        local_port: int = 0,
        local_host: str = "127.0.0.1",
    ) -> PortForward:
        """Listen on ``local_host:local_port`` (0: any free port, see ``.local_port``) and
        forward every connection to ``remote_host:remote_port`` as reached from the target.

        Returns a started :class:`PortForward`; use it as a context manager or call
        ``close()``. Every forward is closed on ``disconnect()``.
        """
        connection = self.connection
        forward = PortForward(
            connection.transport,
            remote_host,
            remote_port,
            local_host=local_host,
            local_port=local_port,
            name=self.host.name,
            on_close=self._forward_closed,
        )
        with self._lock:
            self._forwards.append(forward)
        return forward

    def _forward_closed(self, forward: PortForward) -> None:
        with self._lock:
            if forward in self._forwards:
                self._forwards.remove(forward)


__all__ = ["SSHConnector", "SSHConnectorData", "PortForward"]
