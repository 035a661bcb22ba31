"""The SSH connector (the default: a plain host name in an inventory goes here).

One paramiko transport per host for the whole run (``TCP_NODELAY``, keepalive), one
channel per command, so commands from several threads run side by side safely.
Everything about running a command (sudo/su, env, chdir, timeout, stdin, prompts)
is the shared :class:`~pyinfra.connectors.execution.ExecutionConnector`; this module
starts processes on channels and picks how each file moves.

Files: as the login user through sftp/scp (:mod:`.transfer`); escalated to root by
staging a private temp file that an escalated command installs; escalated to another
user (who could not read the login user's private file) and escalated downloads through
the escalated command's stdin/stdout: nothing is staged at all.

Faults: a server that stops answering is detected by keepalive probes
(:mod:`.liveness`); a command killed while its host does not answer is killed when the
host answers again, or at the next connection; temp files a lost connection left
behind are removed at the next connection too (the connection's ``leftovers``).
``disconnect()`` first stops the transfers in flight (Ctrl-C), lets them remove their
temp files and lets the kills on their way land.

Port forwarding::

    with host.connector.forward_port("db.internal", 5432) as forward:
        psycopg.connect(host="127.0.0.1", port=forward.local_port)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import paramiko

from pyinfra.api.arguments import ResolvedArguments
from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import ConnectError, InventoryError, TransferError
from pyinfra.connectors._runner.process import Process
from pyinfra.connectors._runner.request import ProcessRequest
from pyinfra.connectors._runner.transfer import known_size
from pyinfra.connectors.execution import ExecutionConnector
from pyinfra.connectors.rsync import RsyncMixin
from pyinfra.connectors.ssh.connect import Leftovers, SSHConnection, open_connection
from pyinfra.connectors.ssh.forward import PortForward
from pyinfra.connectors.ssh.logs import route_paramiko_logs
from pyinfra.connectors.ssh.process import SSHProcess, clear_leftovers
from pyinfra.connectors.ssh.settings import (
    SSH_DATA_META,
    SSHConnectorData,
    SSHSettings,
    resolve_settings,
)
from pyinfra.connectors.ssh.transfer import SSHFileTransfer, install_command

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State


# Small uploads to a host this far away (seconds, see round_trip) go as one command.
STREAM_UPLOAD_MIN_RTT = 0.003
STREAM_UPLOAD_MAX_BYTES = 256 * 1024

# How long disconnect() waits for the transfers it stops and the kills on their way.
_STOP_WAIT = 5.0


class SSHConnector(RsyncMixin, ExecutionConnector):
    """Connects to hosts over SSH with paramiko.

    ``settings``: connect with these instead of the ones resolved from the host's data
    and ssh_config (``@dockerssh/CONTAINER`` gives the container's address this way).
    """

    rsync_kind = "ssh"  # files.rsync (pyinfra.connectors.rsync)

    handles_execution = True
    data_cls = SSHConnectorData
    data_meta = SSH_DATA_META

    def __init__(self, state: State, host: Host, settings: SSHSettings | None = None) -> None:
        super().__init__(state, host)
        self._settings = settings
        self._lock = threading.RLock()
        self._connection: SSHConnection | None = None
        self._transfer: SSHFileTransfer | None = None
        self._forwards: list[PortForward] = []
        self._leftovers = Leftovers()  # from connections that were lost
        route_paramiko_logs()

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        if not name:
            raise InventoryError("@ssh needs a host name: use @ssh/HOSTNAME or just HOSTNAME")
        yield name, {}, []

    # -- connection ----------------------------------------------------------------------

    def settings(self) -> SSHSettings:
        """This host's connection settings (data, then ssh_config, then defaults)."""
        if self._settings is not None:
            return self._settings
        return resolve_settings(self.host.name, self.data, float(self.state.config.CONNECT_TIMEOUT))

    def connect(self) -> None:
        with self._lock:
            if self._connection is not None and self._connection.active:
                return
            self._close_connection()
            connection = open_connection(self.settings())
            connection.prepare_channel()  # the first command's channel, opened ahead
            self._connection = connection
            self._transfer = SSHFileTransfer(connection)
            leftovers = self._leftovers.take()
        if leftovers:
            self._leftovers.merge(clear_leftovers(connection, leftovers))

    def disconnect(self) -> None:
        connection, transfer = self._connection, self._transfer
        if connection is not None and connection.active:
            # stop what is in flight first (they remove their temp files), and let the
            # kills on their way land, while the connection is still there
            started = time.monotonic()
            self.stop_activity(_STOP_WAIT)
            connection.wait_for_kills(max(0.5, _STOP_WAIT - (time.monotonic() - started)))
            if transfer is not None:
                if connection.answered_since(started):
                    transfer.remove_unfinished()  # stuck ones: a server that stopped reading
                else:  # a server that stopped answering: for the next connection
                    connection.leftovers.litter += transfer.unfinished()
        with self._lock:
            for forward in list(self._forwards):
                forward.close()
            self._forwards.clear()
            self._close_connection()

    def defer_cleanup(self, command: StringCommand, arguments: ResolvedArguments) -> bool:
        connection = self._connection
        if connection is None or connection.active:
            return False
        connection.leftovers.cleanups.append((command, arguments))
        return True

    def abort_transfers(self) -> None:
        transfer = self._transfer
        if transfer is not None:
            transfer.abort()

    def _close_connection(self) -> None:
        """Remove what a connection left behind if it still can, keep the rest for the
        next connection, then close."""
        transfer, connection = self._transfer, self._connection
        self._transfer = self._connection = None
        if transfer is not None:
            transfer.close()
        if connection is None:
            return
        leftovers = connection.leftovers.take()
        if leftovers and connection.active:
            leftovers = clear_leftovers(connection, leftovers)
        connection.close()
        # kills still on their way end now that the connection is closed, recording
        # what they could not do
        connection.wait_for_kills(1.0)
        leftovers.merge(connection.leftovers.take())
        self._leftovers.merge(leftovers)

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

    def start_process(self, request: ProcessRequest) -> Process:
        connection = self.connection
        return SSHProcess(connection, request, forward_agent=connection.settings.forward_agent)

    # -- files ---------------------------------------------------------------------------

    def native_put_file(
        self, filename_or_io: str | IO[Any], remote_filename: str, arguments: ResolvedArguments
    ) -> bool:
        user = arguments.target_user
        if user is not None and user != "root":
            return False  # streamed through the escalated command's stdin
        transfer = self.file_transfer
        if user is None:
            if self._streams_small_upload(filename_or_io):
                return False  # one command: cheaper than sftp's requests on a far host
            transfer.put(filename_or_io, remote_filename)
            return True
        staged = transfer.stage(filename_or_io, arguments.temp_dir, remote_filename)
        try:
            ok, output = self.execute(install_command(staged, remote_filename), arguments)
            if not ok:
                raise TransferError(
                    f"{self.host.name}: upload to {remote_filename} failed: "
                    f"{output.failure_line()} (target left unchanged)"
                )
        finally:
            transfer.remove_staged(staged)
        return True

    def batches_upload(self, size: int) -> bool:
        return self._is_far() and size <= STREAM_UPLOAD_MAX_BYTES

    def _is_far(self) -> bool:
        rtt = self.connection.round_trip
        return rtt is not None and rtt >= STREAM_UPLOAD_MIN_RTT

    def _streams_small_upload(self, filename_or_io: str | IO[Any]) -> bool:
        """Whether to send this upload as one command (the file on its stdin, see
        ``stream_put_file``): a small file to a host far enough away that sftp's requests
        in a row (stat, open, write, setstat, close, rename) cost more than the few
        processes that command starts on the target."""
        if not self._is_far():
            return False
        size = known_size(filename_or_io)
        return size is not None and size <= STREAM_UPLOAD_MAX_BYTES

    def native_get_file(
        self, remote_filename: str, filename_or_io: str | IO[Any], arguments: ResolvedArguments
    ) -> bool:
        if arguments.escalates:
            return False  # streamed through the escalated command's stdout
        self.file_transfer.get(remote_filename, filename_or_io)
        return True

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
