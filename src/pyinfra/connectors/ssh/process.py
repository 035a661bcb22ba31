"""One remote command on a paramiko channel, as an execloop ``Process``.

Every command gets its own session channel on the host's single transport. The
command is started so that it can be killed for real: sshd makes the login shell the
leader of a new session and process group, and that shell first prints its PID (which
is then also the process group id) behind a marker on stderr, before running the
command. :class:`SSHProcess` strips the marker from the output and keeps the PID.

``kill()`` then runs :data:`KILL_SCRIPT` over a second channel (escalated the same way
as the command when it was run with sudo/su/doas, since its processes then belong to
another user): it kills every process group of the command's process tree (a sudo with
``use_pty`` starts the command in a group of its own), then closes the channel.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import threading
import time
from collections.abc import Callable
from typing import Any

import paramiko

from pyinfra.api.exceptions import ConnectError

logger = logging.getLogger("pyinfra")

PID_PREFIX = b"\x1b]pyinfra-pid;"
PID_END = b"\x07"
_CHUNK = 65536
_MAX_HOLD = 65536  # bytes held back while looking for the PID marker
_OPEN_ATTEMPTS = 20

# $1: the login shell's PID = its process group. Kills every group in its process tree.
KILL_SCRIPT = r"""root=$1
groups=$(ps -e -o pid= -o ppid= -o pgid= 2>/dev/null | awk -v root="$root" '
{ parent[$1] = $2; group[$1] = $3 }
END {
  tree[root] = 1
  do {
    grown = 0
    for (p in parent) if (!(p in tree) && (parent[p] in tree)) { tree[p] = 1; grown = 1 }
  } while (grown)
  for (p in tree) if (p in group) print group[p]
}' | sort -u)
for g in "$root" $groups; do kill -s KILL -- "-$g" 2>/dev/null; done
kill -s KILL -- "$root" 2>/dev/null
exit 0
"""

Killer = Callable[[int], None]


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


def open_session(
    transport: paramiko.Transport, name: str, timeout: float, window_size: int | None = None
) -> paramiko.Channel:
    """A new session channel; waits a little when the server's MaxSessions is reached."""
    delay = 0.02
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            return transport.open_session(timeout=timeout, window_size=window_size)
        except paramiko.ChannelException as exc:
            if attempt == _OPEN_ATTEMPTS - 1:
                raise ConnectError(
                    f"{name}: the SSH server refused a new session ({exc}): "
                    "too many concurrent commands for its MaxSessions?"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectError(
                f"{name}: the SSH connection is lost ({exc or type(exc).__name__}): reconnect"
            ) from None
    raise AssertionError("unreachable")  # pragma: no cover


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
    """A command running on its own channel (``exec`` request), optionally on a pty."""

    def __init__(
        self,
        transport: paramiko.Transport,
        command: str,
        get_pty: bool = False,
        *,
        name: str = "",
        timeout: float = 10.0,
        forward_agent: bool = False,
        killer: Killer | None = None,
        login_sh: bool = False,
        on_login_shell: Callable[[str], None] | None = None,
    ) -> None:
        self.has_stderr = not get_pty
        self.name = name
        self.pid: int | None = None
        self._killer = killer
        self._on_login_shell = on_login_shell
        self._killed = False
        self._lock = threading.Lock()
        self._pid_seen = threading.Event()
        self._stdin_open = threading.Event()  # a pty echoes until ``stty -echo`` ran
        if not get_pty:
            self._stdin_open.set()
        self._hold = b""
        self._scanning = True
        self._stdin_closed = False
        self._last_byte = b"\n"
        self._pty = get_pty
        channel = open_session(transport, name, timeout)
        try:
            if forward_agent:
                paramiko.agent.AgentRequestHandler(channel)
            if get_pty:
                channel.get_pty(term="xterm", width=200, height=50)
            channel.exec_command(wrap_command(command, get_pty, login_sh))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            channel.close()
            raise ConnectError(
                f"{name}: the SSH server refused to run the command: {exc or type(exc).__name__}"
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
        """Kill the remote process tree (through the killer), then close the channel."""
        with self._lock:
            if self._killed:
                return
            self._killed = True
        try:
            if self._killer is not None and not self.channel.closed:
                self._pid_seen.wait(5.0)
                if self.pid is not None:
                    self._killer(self.pid)
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
