"""One remote command on a paramiko channel, as a runner ``Process``.

Every command gets its own session channel from :meth:`SSHConnection.open_channel`.
The command is started so that it can be killed for real: sshd makes the login shell the
leader of a new session and process group, and that shell first prints its PID (which
is then also the process group id) behind a marker on stderr, before running the
command. :class:`SSHProcess` strips the marker from the output and keeps the PID.

``kill()`` then runs the kill-tree script over a second channel, escalated exactly as
the command's own :class:`ProcessRequest` says (its processes belong to the user it
escalated to): it kills every process group of the command's process tree (a sudo with
``use_pty`` starts the command in a group of its own), then closes the channel.
:func:`run_helper` runs a connector's own helper command as the login user.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import threading
from collections.abc import Callable
from typing import Any

import paramiko

from pyinfra.api.arguments import ResolvedArguments
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import ConnectError
from pyinfra.connectors._runner.loop import run_process
from pyinfra.connectors._runner.markers import PID_END, PID_PREFIX
from pyinfra.connectors._runner.request import ProcessRequest
from pyinfra.connectors._runner.scripts import script
from pyinfra.connectors.output import CONNECTION_LOST, CommandOutput, Failure
from pyinfra.connectors.ssh.connect import SSHConnection

logger = logging.getLogger("pyinfra")

_CHUNK = 65536
_MAX_HOLD = 65536  # bytes held back while looking for the PID marker
KILL_TIMEOUT = 15.0


def unwrap_sh(command: str) -> str | None:
    """The script of a command that is exactly ``sh -c SCRIPT``, else None."""
    if not command.startswith("sh -c "):
        return None
    try:
        parts = shlex.split(command)
    except ValueError:
        return None
    if len(parts) == 3 and shlex.join(parts) == command:
        return parts[2]
    return None


def wrap_command(command: str, get_pty: bool, login_sh: bool = False) -> str:
    """The command as sent to sshd: report the PID (and the login shell's name) first, and
    turn off echo on a pty.

    ``login_sh``: the login shell is ``sh`` itself, so a command that is exactly
    ``sh -c SCRIPT`` runs SCRIPT directly in it (the same shell, one process less).
    """
    lines = []
    if get_pty:
        lines.append("stty -echo 2>/dev/null")
    lines.append('printf \'\\033]pyinfra-pid;%d;%s\\007\' "$$" "$0" >&2')
    script = unwrap_sh(command) if login_sh else None
    lines.append(script if script is not None else command)
    return "\n".join(lines)


def send_eof(channel: paramiko.Channel) -> None:
    """Send EOF on ``channel`` unless it is closed, atomically with respect to a CLOSE
    from the server.

    paramiko's ``shutdown_write`` marks the EOF as sent under the channel lock but sends it
    after releasing the lock; if the server's CLOSE is handled in between, paramiko answers
    with its own CLOSE first and our EOF then arrives for a channel that no longer exists,
    which makes sshd drop the whole connection ("ieof packet referred to nonexistent
    channel"). Holding the lock until the EOF is out closes that gap.
    """
    lock = getattr(channel, "lock", None)
    transport = channel.get_transport()
    if lock is None or transport is None or not transport.clear_to_send.is_set():
        if not channel.closed:
            channel.shutdown_write()
        return
    internals: Any = channel  # paramiko internals, not in its type stubs
    sender: Any = transport
    with lock:
        if channel.closed or channel.eof_sent:
            return
        message = internals._send_eof()
        if message is not None:
            sender._send_user_message(message)


class SSHProcess:
    """A command running on its own channel (``exec`` request), optionally on a pty.

    ``kill_tree``: a kill reaches the command's whole process tree on the target (False
    for the kill command itself: killing it only closes its channel)."""

    def __init__(
        self,
        connection: SSHConnection,
        request: ProcessRequest,
        *,
        forward_agent: bool = False,
        kill_tree: bool = True,
    ) -> None:
        self.connection = connection
        self.request = request
        self.has_stderr = not request.pty
        self.name = connection.settings.name
        self.pid: int | None = None
        self._kill_tree = kill_tree
        self._on_login_shell: Callable[[str], None] | None = (
            connection.learn_login_shell if connection.login_shell is None else None
        )
        self._killed = False
        self._lock = threading.Lock()
        self._pid_seen = threading.Event()
        self._stdin_open = threading.Event()  # a pty echoes until ``stty -echo`` ran
        if not request.pty:
            self._stdin_open.set()
        self._hold = b""
        self._scanning = True
        self._stdin_closed = False
        self._last_byte = b"\n"
        self._pty = request.pty
        channel = connection.open_channel()
        try:
            if forward_agent:
                paramiko.agent.AgentRequestHandler(channel)
            if request.pty:
                channel.get_pty(term="xterm", width=200, height=50)
            login_sh = connection.login_shell == "sh"
            channel.exec_command(wrap_command(request.raw, request.pty, login_sh))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            channel.close()
            raise ConnectError(
                f"{self.name}: the SSH server refused to run the command: "
                f"{exc or type(exc).__name__}"
            ) from None
        self.channel = channel

    # -- output ------------------------------------------------------------------------

    def read_stdout(self) -> bytes:
        if self._pty:
            return self._read_scanning(self.channel.recv)
        return self._recv(self.channel.recv)

    def read_stderr(self) -> bytes:
        if self._pty:
            return b""
        return self._read_scanning(self.channel.recv_stderr)

    @staticmethod
    def _recv(recv: Callable[[int], bytes]) -> bytes:
        try:
            return bytes(recv(_CHUNK))
        except (OSError, EOFError, paramiko.SSHException):
            return b""

    def _read_scanning(self, recv: Callable[[int], bytes]) -> bytes:
        """Read the stream that carries the PID marker; the marker itself is removed."""
        while self._scanning:
            chunk = self._recv(recv)
            if not chunk:
                return self._stop_scanning(self._hold)
            self._hold += chunk
            start = self._hold.find(PID_PREFIX)
            if start >= 0:
                end = self._hold.find(PID_END, start)
                if end >= 0:
                    digits, _, shell = self._hold[start + len(PID_PREFIX) : end].partition(b";")
                    if digits.isdigit():
                        self.pid = int(digits)
                    if self._on_login_shell is not None:
                        self._on_login_shell(shell.decode(errors="replace"))
                    data = self._hold[:start] + self._hold[end + 1 :]
                    self._stop_scanning(b"")
                    if data:
                        return data
                    continue
            if len(self._hold) > _MAX_HOLD:
                return self._stop_scanning(self._hold)
        return self._recv(recv)

    def _stop_scanning(self, data: bytes) -> bytes:
        self._scanning = False
        self._hold = b""
        self._pid_seen.set()
        self._stdin_open.set()
        return data

    # -- input -------------------------------------------------------------------------

    def write_stdin(self, data: bytes) -> None:
        self._stdin_open.wait()
        if not data:
            return
        try:
            self.channel.sendall(data)
        except (EOFError, paramiko.SSHException) as exc:
            raise OSError(str(exc) or "channel closed") from None
        self._last_byte = data[-1:]

    def close_stdin(self) -> None:
        with self._lock:
            if self._stdin_closed:
                return
            self._stdin_closed = True
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            if self._pty:
                # A terminal has no EOF of its own: ^D (twice after a partial line).
                self._stdin_open.wait()
                self.channel.sendall(b"\x04" if self._last_byte == b"\n" else b"\x04\x04")
            send_eof(self.channel)

    # -- status ------------------------------------------------------------------------

    def wait(self, timeout: float | None) -> int | None:
        if not self.channel.status_event.wait(timeout):
            return None
        return int(self.channel.exit_status)

    def kill(self) -> None:
        """Kill the remote process tree, then close the channel."""
        with self._lock:
            if self._killed:
                return
            self._killed = True
        try:
            if self._kill_tree and not self.channel.closed:
                self._pid_seen.wait(5.0)
                if self.pid is not None:
                    kill_process_tree(self.connection, self.pid, self.request.arguments)
        except Exception as exc:  # noqa: BLE001 - a failed kill must still close the channel
            logger.warning(
                "%s: could not kill the remote command (pid %s): %s", self.name, self.pid, exc
            )
        finally:
            self._stdin_open.set()
            self.channel.close()

    def close(self) -> None:
        self._stdin_open.set()
        self.channel.close()

    def failure(self, output: CommandOutput) -> Failure | None:
        """A failed command on a connection that is gone failed because of that."""
        if self.connection.active:
            return None
        return Failure(
            CONNECTION_LOST, f"the SSH connection to {self.name} was lost during the command"
        )


def kill_process_tree(connection: SSHConnection, pid: int, arguments: ResolvedArguments) -> None:
    """Kill the process tree of ``pid`` on the target, as the user the command ran as:
    escalated with the same sudo/su/doas arguments (and secrets) it was started with."""
    if not connection.active:
        return
    command = StringCommand("sh", "-c", QuoteString(script("kill-tree")), "pyinfra-kill", str(pid))
    if arguments.escalates:
        escalated = {**arguments.escalation, "_shell_executable": None, "_timeout": KILL_TIMEOUT}
        request = ProcessRequest.build(command, ResolvedArguments.from_call(escalated))
    else:
        request = ProcessRequest.plain(command, KILL_TIMEOUT)
    process = SSHProcess(connection, request, kill_tree=False)
    ok, output = run_process(process, timeout=KILL_TIMEOUT, responders=request.responders)
    if not ok:
        raise ConnectError(f"{connection.settings.name}: kill failed: {output.failure_line()}")


def run_helper(
    connection: SSHConnection, command: str | StringCommand, timeout: float | None = None
) -> tuple[bool, CommandOutput]:
    """Run one of the connector's own helper commands (as it is, no escalation, no
    stdin) on the connection, as the login user."""
    request = ProcessRequest.plain(command, timeout)
    return run_process(SSHProcess(connection, request), timeout=timeout)
