"""One command in a container, through the engine's exec API, as an execloop ``Process``.

The exec is created with stdin attached, started on a hijacked connection (stdin is
written raw; without a tty, stdout/stderr come back multiplexed in frames with an
8-byte header: stream type, 3 zero bytes, big-endian length) and half-closed to send
EOF. The exit status comes from ``GET /exec/ID/json`` once the stream has ended.

Timeouts kill inside the container: every exec carries a random token in its
environment. An exec process is a session leader (runc/crun call ``setsid``), so the
``kill-token`` script, run as root in a second exec (:func:`kill_in_container`), stops
and then kills every process that has the token or belongs to the session/process
group led by one that has it (children under ``sudo`` lose the environment but keep
the session). Zombies are skipped: they are not running.
"""

from __future__ import annotations

import contextlib
import queue
import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from pyinfra.connectors._runner.scripts import script
from pyinfra.connectors.docker.api import EngineClient, EngineError, quote_path
from pyinfra.connectors.output import CommandOutput, Failure

TOKEN_VAR = "PYINFRA_EXEC_TOKEN"
_CHUNK = 1 << 16


class ExecProcess:
    """A running exec; implements the execloop ``Process`` protocol."""

    def __init__(
        self,
        client: EngineClient,
        container_id: str,
        argv: list[str],
        *,
        tty: bool = False,
        user: str | None = None,
        env: list[str] | None = None,
        describe: str = "container",
        on_dead: Callable[[float], Failure | None] | None = None,
    ) -> None:
        self.client = client
        self.container_id = container_id
        self.has_stderr = not tty
        self.token = secrets.token_hex(12)
        self.user = user
        self.describe = describe
        self._on_dead = on_dead
        self._tty = tty
        config: dict[str, Any] = {
            "AttachStdin": True,
            "AttachStdout": True,
            "AttachStderr": True,
            "Tty": tty,
            "Cmd": argv,
            "Env": [f"{TOKEN_VAR}={self.token}", *(env or [])],
        }
        if user:
            config["User"] = user
        created = client.call("POST", f"/containers/{quote_path(container_id)}/exec", config)
        self.exec_id: str = created["Id"]
        self._sock: socket.socket
        self._sock, self._pending = client.hijack(
            f"/exec/{self.exec_id}/start", {"Detach": False, "Tty": tty}
        )
        self._err: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._eof = threading.Event()
        self._stdin_closed = False
        self._closed = False
        self._write_lock = threading.Lock()
        self._exit_code: int | None = None
        self._killed = False

    # Reading -----------------------------------------------------------------

    def _recv(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        try:
            return self._sock.recv(_CHUNK)
        except OSError:
            return b""

    def _recv_exact(self, size: int) -> bytes:
        parts: list[bytes] = []
        while size > 0:
            if self._pending:
                piece, self._pending = self._pending[:size], self._pending[size:]
            else:
                try:
                    piece = self._sock.recv(min(size, 1 << 20))
                except OSError:
                    piece = b""
                if not piece:
                    break
            parts.append(piece)
            size -= len(piece)
        return b"".join(parts)

    def _finish(self) -> bytes:
        """End of the stream: fetch the exit status, then signal EOF on both streams."""
        if not self._killed and not self._eof.is_set():
            self._exit_status()
        self._err.put(b"")
        self._eof.set()
        return b""

    def next_frame(self) -> tuple[int, bytes] | None:
        """The next ``(stream, payload)`` of a multiplexed stream; ``None`` at its end
        (a truncated last frame is returned as it is)."""
        header = self._recv_exact(8)
        if len(header) < 8:
            return None
        stream, size = header[0], struct.unpack(">I", header[4:])[0]
        payload = self._recv_exact(size)
        if len(payload) < size and not payload:
            return None
        return stream, payload

    def read_stdout(self) -> bytes:
        """The one socket reader: returns stdout frames, routes stderr frames to a queue."""
        if self._eof.is_set():
            return b""
        if self._tty:
            data = self._recv()
            return data if data else self._finish()
        while True:
            frame = self.next_frame()
            if frame is None:
                return self._finish()
            stream, payload = frame
            if stream == 2:
                self._err.put(payload)
            elif payload:
                return payload

    def read_stderr(self) -> bytes:
        if not self.has_stderr:
            return b""
        return self._err.get()

    # Writing -----------------------------------------------------------------

    def write_stdin(self, data: bytes) -> None:
        with self._write_lock:
            self._sock.sendall(data)

    def close_stdin(self) -> None:
        with self._write_lock:
            if self._stdin_closed:
                return
            self._stdin_closed = True
            with contextlib.suppress(OSError):
                if self._tty:
                    self._sock.sendall(b"\x04")
                else:
                    self._sock.shutdown(socket.SHUT_WR)

    # Lifecycle ---------------------------------------------------------------

    def wait(self, timeout: float | None) -> int | None:
        if not self._eof.wait(timeout):
            return None
        return self._exit_status()

    def _exit_status(self) -> int:
        if self._exit_code is not None:
            return self._exit_code
        deadline = time.monotonic() + 10
        while True:
            try:
                info = self.client.call("GET", f"/exec/{self.exec_id}/json")
            except EngineError:
                info = {}
            code = info.get("ExitCode")
            if not info.get("Running") and code is not None:
                self._exit_code = int(code)
                break
            if time.monotonic() > deadline or not info:
                self._exit_code = -1
                break
            time.sleep(0.002)
        return self._exit_code

    def kill(self) -> None:
        """Kill the command and everything it started inside the container."""
        if self._killed or self._eof.is_set():
            return
        self._killed = True
        leader = None
        with contextlib.suppress(Exception):
            info = self.client.call("GET", f"/exec/{self.exec_id}/json")
            if info.get("Pid"):  # a host pid: usable when the engine runs on this machine
                leader = namespace_pid(int(info["Pid"]))
        kill_in_container(self.client, self.container_id, self.token, self.user, leader)
        # The stream ends when the process is gone; if it does not, stop reading it.
        if not self._eof.wait(5):
            self.abort()

    def abort(self) -> None:
        """Stop the stream in both directions (wakes a blocked reader)."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()

    def failure(self, output: CommandOutput) -> Failure | None:
        """A command that ended with no status or 126+ may have lost its container."""
        code = output.exit_code
        if self._killed or self._on_dead is None or code is None or 0 <= code < 126:
            return None
        return self._on_dead(3.0 if code < 0 else 0.0)


def _exec_output(
    client: EngineClient, container_id: str, argv: list[str], user: str
) -> tuple[int, bytes]:
    """Run ``argv`` as ``user`` with no stdin; its exit status and stdout."""
    process = ExecProcess(client, container_id, argv, user=user)
    process.close_stdin()
    chunks = []
    while chunk := process.read_stdout():
        chunks.append(chunk)
    code = process.wait(30)
    process.close()
    return (code if code is not None else -1), b"".join(chunks)


def exec_status(client: EngineClient, container_id: str, argv: list[str], user: str) -> int:
    """The exit status of ``argv`` run as ``user`` in the container."""
    return _exec_output(client, container_id, argv, user)[0]


def kill_in_container(
    client: EngineClient,
    container_id: str,
    token: str,
    user: str | None = None,
    leader: int | None = None,
    driver_tag: str | None = None,
) -> None:
    """Kill a command (and its session) inside the container, as root.

    The command is found by its ``leader`` pid (in the container's pid namespace), as
    the current child of the session driver tagged ``driver_tag``, or by ``token`` in
    its environment. Root in a container lacks CAP_SYS_PTRACE, so it cannot read the
    environment of other users' or non-dumpable (``sudo``) processes: without a leader,
    the token holders are first looked up as the command's ``user``."""
    with contextlib.suppress(Exception):
        found: list[str] = [str(leader)] if leader else []
        if not found and user and user.split(":", 1)[0] not in ("0", "root"):
            _, out = _exec_output(client, container_id, find_token_argv(token), user)
            found = [w for w in out.decode(errors="replace").split() if w.isdigit()]
        _exec_output(client, container_id, kill_token_argv(token, driver_tag, found), "0")


def find_token_argv(token: str) -> list[str]:
    """The command that prints the PIDs carrying the exec ``token`` (run as their user)."""
    return ["sh", "-c", script("find-token"), "pyinfra-find", token]


def kill_token_argv(token: str, driver_tag: str | None, found: list[str]) -> list[str]:
    """The command (run as root) that kills a command by its token, the current child of
    the session driver tagged ``driver_tag``, and the sessions of the ``found`` PIDs."""
    return ["sh", "-c", script("kill-token"), "pyinfra-kill", token, driver_tag or "-", *found]


def namespace_pid(host_pid: int) -> int | None:
    """The pid, in its own (innermost) pid namespace, of a process of this machine."""
    try:
        with open(f"/proc/{host_pid}/status") as handle:
            for line in handle:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        return None
    return None
