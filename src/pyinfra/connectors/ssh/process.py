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

A kill never makes its caller wait for a server that does not answer: it runs in a
thread of its own, on a channel that waits as long as the connection lives, so it lands
as soon as the server answers again; if the connection ends first, it is recorded in
the connection's ``leftovers`` and done by the next connection to the host (the PID is
checked against the start time the login shell reported, so a recycled PID is never
hit). A refused sudo/su password is not followed by an escalated kill (that would be a
second refused attempt): the command never started, so ending the login shell's input
ends it. :func:`run_helper` runs a connector's own helper command as the login user;
:func:`clear_leftovers` finishes a lost connection's kills and removes its temp files.
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
from pyinfra.connectors.ssh.connect import Leftovers, SSHConnection

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
    # the PID, the shell's name and (Linux) its stat line: its start time tells a later
    # kill whether that PID is still this command's
    lines.append("read -r _pyinfra_stat 2>/dev/null </proc/$$/stat || _pyinfra_stat=")
    lines.append(
        'printf \'\\033]pyinfra-pid;%d;%s;%s\\007\' "$$" "$0" "$_pyinfra_stat" >&2; '
        "unset _pyinfra_stat"
    )
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


def exec_pipelined(channel: paramiko.Channel, command: str) -> None:
    """Ask the server to run ``command`` on ``channel`` without waiting for its answer.

    The output, the exit status and any stdin we send go through the same channel, in
    order, after the request: waiting for the server's "ok" first (as paramiko's
    ``exec_command`` does) only costs a round trip. A refusal closes the channel (no
    exit status; see :meth:`SSHProcess.failure`)."""
    internals: Any = channel  # paramiko internals, not in its type stubs
    transport: Any = channel.get_transport()
    if transport is None or channel.closed:
        raise paramiko.SSHException("the channel is closed")
    message = paramiko.Message()
    message.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    message.add_int(internals.remote_chanid)
    message.add_string("exec")
    message.add_boolean(True)
    message.add_string(command)
    internals._event_pending()
    transport._send_user_message(message)


class SSHProcess:
    """A command running on its own channel (``exec`` request), optionally on a pty.

    ``kill_tree``: a kill reaches the command's whole process tree on the target (False
    for the kill command itself: killing it only closes its channel). ``urgent``: the
    channel skips the queue of a server at its MaxSessions (kills)."""

    def __init__(
        self,
        connection: SSHConnection,
        request: ProcessRequest,
        *,
        forward_agent: bool = False,
        kill_tree: bool = True,
        urgent: bool = False,
        patient: bool = False,
    ) -> None:
        self.connection = connection
        self.request = request
        self.has_stderr = not request.pty
        self.name = connection.settings.name
        self.pid: int | None = None
        self.start_time = ""  # the login shell's start time (Linux), for later kills
        self._kill_tree = kill_tree
        self._on_login_shell: Callable[[str], None] | None = (
            connection.learn_login_shell if connection.login_shell is None else None
        )
        self._killed = False
        self._kill: threading.Thread | None = None
        self._kill_note: str | None = None
        self._abandon_recorded = False
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
        channel = connection.open_channel(urgent=urgent, patient=patient)
        try:
            if forward_agent:
                paramiko.agent.AgentRequestHandler(channel)
            if request.pty:
                channel.get_pty(term="xterm", width=200, height=50)
            login_sh = connection.login_shell == "sh"
            command = wrap_command(request.raw, request.pty, login_sh)
            if request.pty:
                channel.exec_command(command)
            else:
                exec_pipelined(channel, command)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            channel.close()
            connection.released()
            if not connection.active:
                raise ConnectError(connection.lost_message()) from None
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
                    self._learn(self._hold[start + len(PID_PREFIX) : end])
                    data = self._hold[:start] + self._hold[end + 1 :]
                    self._stop_scanning(b"")
                    if data:
                        return data
                    continue
            if len(self._hold) > _MAX_HOLD:
                return self._stop_scanning(self._hold)
        return self._recv(recv)

    def _learn(self, marker: bytes) -> None:
        """``PID;SHELL;STAT`` from the login shell (STAT: /proc/PID/stat, or empty)."""
        digits, _, rest = marker.partition(b";")
        shell, _, stat = rest.partition(b";")
        if digits.isdigit():
            self.pid = int(digits)
        fields = stat.rpartition(b")")[2].split()
        if len(fields) > 19 and fields[19].isdigit():
            self.start_time = fields[19].decode()
        if self._on_login_shell is not None:
            self._on_login_shell(shell.decode(errors="replace"))

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
        self._raise_if_never_started()
        return int(self.channel.exit_status)

    def _raise_if_never_started(self) -> None:
        """The connection was lost before the server answered the ``exec`` (sent without
        waiting, see :func:`exec_pipelined`): the command never ran, and the caller
        gets the ``ConnectError`` it would have got when opening the channel."""
        internals: Any = self.channel
        if internals.event_ready or self.channel.exit_status != -1 or self._killed:
            return
        if not self.connection.active:
            raise ConnectError(self.connection.lost_message())

    def kill(self) -> None:
        """Kill the remote process tree, then close the channel.

        Returns at once: the kill runs in a thread of its own (registered on the
        connection, which waits for it before closing) and lands as soon as the server
        answers; the runner waits for the command's end as long as it sees fit."""
        with self._lock:
            if self._killed:
                return
            self._killed = True
        if not self._kill_tree or self.channel.closed:
            self.close()
            return
        thread = threading.Thread(target=self._kill_worker, daemon=True, name="pyinfra-ssh-kill")
        with self._lock:
            self._kill = thread
        self.connection.kills.add(thread)
        thread.start()

    def kill_refused(self) -> None:
        """The sudo/su password was refused: the command never started, and the
        escalation tool only waits for another password on stdin. End that input (no
        second, escalated kill: it would be one more refused attempt)."""
        with self._lock:
            self._killed = True
        self.close_stdin()

    def _kill_worker(self) -> None:
        try:
            # the PID may still be on its way from a host that stopped answering
            while not self._pid_seen.wait(0.2):
                if self.channel.closed or not self.connection.active:
                    break
            if self.pid is None:
                self._kill_note = f"{self.name} did not report the command's PID"
                if not self.connection.active:
                    self._kill_note = f"{self.connection.lost_message()}; {self._kill_note}"
                return
            kill_process_tree(
                self.connection,
                self.pid,
                self.request.arguments,
                start_time=self.start_time,
                patient=True,
            )
        except ConnectError as exc:
            if not self.connection.active and self._abandoned():
                self._kill_note = (
                    f"{self.connection.lost_message()}; the command is killed at the next "
                    "connection"
                )
            else:
                self._kill_note = f"the kill failed: {exc}"
            logger.warning("%s: could not kill the remote command (pid %s): %s",
                           self.name, self.pid, exc)  # fmt: skip
        finally:
            self.close()
            self.connection.kills.discard(threading.current_thread())

    def close(self) -> None:
        self._stdin_open.set()
        self.channel.close()
        self.connection.released()

    def failure(self, output: CommandOutput) -> Failure | None:
        """Why the command failed when its output cannot say: the connection is gone,
        or it was killed and the kill has not reached the target (yet)."""
        connection = self.connection
        if not connection.active:
            message = (
                connection.lost_message()
                if connection.lost_reason
                else f"the SSH connection to {self.name} was lost during the command"
            )
            if self._abandoned():
                message += "; the command is killed at the next connection"
            return Failure(CONNECTION_LOST, message)
        internals: Any = self.channel
        refused = not internals.event_ready and self.channel.exit_status == -1
        if refused and self.pid is None and not self._killed:
            return Failure(
                CONNECTION_LOST, f"the SSH server {self.name} refused to run the command"
            )
        kill = self._kill
        if kill is not None and kill.is_alive():
            return Failure(
                CONNECTION_LOST,
                f"{self.name} did not answer, the command may still be running (it is killed "
                "as soon as the host answers again)",
            )
        if self._kill_note is not None:
            return Failure(CONNECTION_LOST, f"{self._kill_note}; the command may still be running")
        return None

    def _abandoned(self) -> bool:
        """Record the command for a kill by the next connection when the connection went
        away under it (no exit status came); whether it was."""
        with self._lock:
            if self._abandon_recorded:
                return True
            exited = self.channel.exit_status_ready() and self.channel.exit_status != -1
            if exited or self.pid is None or not self.start_time or self._kill_tree is False:
                return False
            self._abandon_recorded = True
        self.connection.leftovers.kills.append((self.pid, self.start_time, self.request.arguments))
        return True


def kill_process_tree(
    connection: SSHConnection,
    pid: int,
    arguments: ResolvedArguments,
    *,
    start_time: str = "",
    patient: bool = False,
) -> None:
    """Kill the process tree of ``pid`` on the target, as the user the command ran as:
    escalated with the same sudo/su/doas arguments (and secrets) it was started with.

    ``start_time``: the PID's start time as reported by the command; when given, a
    process with that PID but another start time (the PID was reused) is left alone.
    ``patient``: wait for a server that does not answer as long as the connection lives.
    """
    if not connection.active:
        raise ConnectError(connection.lost_message())
    command = StringCommand(
        "sh", "-c", QuoteString(script("kill-tree")), "pyinfra-kill", str(pid), start_time or "-"
    )
    if arguments.escalates:
        escalated = {**arguments.escalation, "_shell_executable": None, "_timeout": KILL_TIMEOUT}
        request = ProcessRequest.build(command, ResolvedArguments.from_call(escalated))
    else:
        request = ProcessRequest.plain(command, KILL_TIMEOUT)
    process = SSHProcess(connection, request, kill_tree=False, urgent=True, patient=patient)
    ok, output = run_process(process, timeout=KILL_TIMEOUT, responders=request.responders)
    if not ok:
        raise ConnectError(f"{connection.settings.name}: kill failed: {output.failure_line()}")


def run_helper(
    connection: SSHConnection,
    command: str | StringCommand,
    timeout: float | None = None,
    *,
    urgent: bool = False,
) -> tuple[bool, CommandOutput]:
    """Run one of the connector's own helper commands (as it is, no escalation, no
    stdin) on the connection, as the login user."""
    request = ProcessRequest.plain(command, timeout)
    return run_process(SSHProcess(connection, request, urgent=urgent), timeout=timeout)


def clear_leftovers(connection: SSHConnection, leftovers: Leftovers) -> Leftovers:
    """Do what a lost connection could not: its kills, its cleanup commands, then
    remove its temp files.
    Returns what could not be done now (to try again later)."""
    remaining = Leftovers()
    for pid, start_time, arguments in leftovers.kills:
        try:
            kill_process_tree(connection, pid, arguments, start_time=start_time)
        except ConnectError as exc:
            logger.warning("%s: could not kill a command left running (pid %s): %s",
                           connection.settings.name, pid, exc)  # fmt: skip
            if not connection.active:
                remaining.kills.append((pid, start_time, arguments))
    for command, arguments in leftovers.cleanups:
        request = ProcessRequest.build(command, arguments.replace(_timeout=KILL_TIMEOUT))
        try:
            ok, output = run_process(
                SSHProcess(connection, request, urgent=True),
                timeout=KILL_TIMEOUT,
                responders=request.responders,
            )
        except ConnectError as exc:
            ok, output = False, None
            logger.debug("%s: a cleanup failed: %s", connection.settings.name, exc)
        if not ok:
            if not connection.active:
                remaining.cleanups.append((command, arguments))
            elif output is not None:
                logger.warning("%s: a cleanup of an interrupted transfer failed: %s",
                               connection.settings.name, output.failure_line())  # fmt: skip
    if leftovers.litter:
        paths = [QuoteString(path) for path in leftovers.litter]
        try:
            ok, output = run_helper(connection, StringCommand("rm", "-f", "--", *paths), 30)
        except ConnectError as exc:
            ok, output = False, None
            logger.debug("%s: removing temp files failed: %s", connection.settings.name, exc)
        if not ok:
            detail = output.failure_line() if output is not None else "connection lost"
            logger.warning("%s: could not remove the temp files of an interrupted transfer "
                           "(%s): %s", connection.settings.name, detail,
                           ", ".join(leftovers.litter))  # fmt: skip
            if not connection.active:
                remaining.litter += leftovers.litter
    return remaining
