"""A persistent command session in a container: one exec, many commands.

Starting an exec costs the engine ~30 ms (runc/crun join the container's namespaces
and cgroups each time); forking inside a running shell costs ~1 ms. So, for commands
that need no stdin and no terminal, the docker/podman connectors keep one exec open
running the ``session-driver`` script and send it one command at a time:

    TOKEN \\n COMMAND LINES... \\n TOKEN \\n

The driver runs the command in a subshell with stdin ``/dev/null``, the token in its
environment and a session of its own (``setsid``), so the command's stdout/stderr go
straight into the exec's streams (the driver's own stderr, where the shell would
report "Killed", goes to /dev/null; fd 3 keeps the real one). When it exits, the
driver writes ``TOKEN:STATUS`` to stdout and ``TOKEN`` to stderr; :class:`SessionCommand`
cuts the output there. The token is 128 random bits, so command output cannot fake
the end marker.

Commands with stdin data, a terminal or a password prompt, and commands issued while
the session is busy, get an exec of their own (:class:`ExecProcess`). Timeouts kill
the command's session inside the container with :func:`kill_in_container`; the
driver survives and reports status 137. Note: a background process that outlives
its command (``cmd &``) no longer delays the command's end, as it would in a plain
exec, and may write into the output of a later command.
"""

from __future__ import annotations

import contextlib
import queue
import secrets
import shlex
import threading
from collections.abc import Callable

from pyinfra.connectors._runner.markers import SESSION_READY
from pyinfra.connectors._runner.scripts import script
from pyinfra.connectors.docker.api import EngineClient
from pyinfra.connectors.docker.exec import ExecProcess, kill_in_container
from pyinfra.connectors.output import CommandOutput, Failure


class SessionUnavailable(Exception):
    """The container cannot host a session (no ``sh`` or ``setsid``); use execs."""


class DriverSession:
    """The long-lived exec running the session driver; one command at a time."""

    def __init__(
        self,
        client: EngineClient,
        container_id: str,
        user: str | None,
        on_dead: Callable[[float], Failure | None] | None = None,
    ) -> None:
        self.client = client
        self.user = user
        self.on_dead = on_dead
        self.container_id = container_id
        self.broken = False
        self._busy = threading.Lock()
        # a unique argv tag: the kill script finds the driver (and so its current
        # command) by it, as root, whatever user the commands run as
        self.tag = f"pyinfra-session-{secrets.token_hex(8)}"
        self.proc = ExecProcess(
            client, container_id, ["sh", "-c", script("session-driver"), self.tag], user=user
        )
        seen = b""
        while SESSION_READY not in seen:
            frame = self.proc.next_frame()
            if frame is None:
                self.proc.close()
                raise SessionUnavailable("the session shell exited at start")
            if frame[0] == 1:
                seen += frame[1]

    def try_start(self, argv: list[str]) -> SessionCommand | None:
        """Send ``argv`` if the session is free and healthy, else ``None``."""
        if self.broken or not self._busy.acquire(blocking=False):
            return None
        try:
            return SessionCommand(self, argv)
        except OSError:
            self.broken = True
            self._busy.release()
            return None

    def release(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._busy.release()

    def close(self) -> None:
        self.broken = True
        self.proc.close_stdin()
        self.proc.close()


class _MarkerScanner:
    """Passes stream bytes through until ``marker``; then keeps what follows it."""

    def __init__(self, marker: bytes, until_newline: bool) -> None:
        self.marker = marker
        self.until_newline = until_newline
        self.buffer = b""
        self.done = False
        self.tail = b""  # the text after the marker, up to the newline

    def feed(self, data: bytes) -> bytes:
        if self.done:
            return b""
        buffer = self.buffer + data
        index = buffer.find(self.marker)
        if index < 0:
            cut = len(buffer) - _partial_marker(buffer, self.marker)
            self.buffer = buffer[cut:]
            return buffer[:cut]
        after = buffer[index + len(self.marker) :]
        if self.until_newline and b"\n" not in after:
            self.buffer = buffer[index:]
            return buffer[:index]
        self.tail = after.split(b"\n", 1)[0]
        self.buffer = b""
        self.done = True
        return buffer[:index]


def _partial_marker(buffer: bytes, marker: bytes) -> int:
    """Length of the longest end of ``buffer`` that could be the start of ``marker``."""
    first = marker[:1]
    index = buffer.find(first, max(0, len(buffer) - len(marker) + 1))
    while index >= 0:
        if marker.startswith(buffer[index:]):
            return len(buffer) - index
        index = buffer.find(first, index + 1)
    return 0


class SessionCommand:
    """One command run by a :class:`DriverSession`; an execloop ``Process``."""

    has_stderr = True

    def __init__(self, session: DriverSession, argv: list[str]) -> None:
        self.session = session
        self.token = secrets.token_hex(16)
        marker = self.token.encode()
        self._out = _MarkerScanner(marker + b":", until_newline=True)
        self._err_scan = _MarkerScanner(marker + b"\n", until_newline=False)
        self._err: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._done = threading.Event()
        self._exit_code: int | None = None
        self._killed = False
        payload = f"{self.token}\n{shlex.join(argv)}\n{self.token}\n"
        session.proc.write_stdin(payload.encode())

    def _finish(self, code: int) -> bytes:
        self._exit_code = code
        self._err.put(b"")
        self._done.set()
        self.session.release()
        return b""

    def read_stdout(self) -> bytes:
        if self._done.is_set():
            return b""
        while True:
            frame = self.session.proc.next_frame()
            if frame is None:  # the session ended (container stopped?)
                self.session.broken = True
                return self._finish(-1)
            stream, payload = frame
            if stream == 2:
                data = self._err_scan.feed(payload)
                if data:
                    self._err.put(data)
                if self._out.done and self._err_scan.done:
                    return self._finish(self._status())
                continue
            data = self._out.feed(payload)
            if self._out.done and self._err_scan.done:
                self._finish(self._status())
                return data
            if data:
                return data

    def _status(self) -> int:
        try:
            return int(self._out.tail)
        except ValueError:
            return -1

    def read_stderr(self) -> bytes:
        return self._err.get()

    def write_stdin(self, data: bytes) -> None:
        if data:
            raise BrokenPipeError("this command was started without stdin")

    def close_stdin(self) -> None:
        pass

    def wait(self, timeout: float | None) -> int | None:
        if not self._done.wait(timeout):
            return None
        return self._exit_code

    def failure(self, output: CommandOutput) -> Failure | None:
        """A session that ended under its command may have lost its container."""
        if self._killed or self._exit_code != -1 or self.session.on_dead is None:
            return None
        return self.session.on_dead(3.0)

    def kill(self) -> None:
        if self._killed or self._done.is_set():
            return
        self._killed = True
        session = self.session
        kill_in_container(session.client, session.container_id, self.token, driver_tag=session.tag)
        if not self._done.wait(5):
            self.session.broken = True
            self.session.proc.abort()
