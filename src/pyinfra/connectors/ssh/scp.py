"""The (legacy) scp protocol over an exec channel: ``scp -t`` (sink) and ``scp -f``
(source) on the target, for one regular file each way.

Used when ``ssh_file_transfer_protocol`` is ``scp``, or when the server has no sftp
subsystem. Errors from the remote scp (``\\x01``/``\\x02`` + message) are raised as
:class:`SCPError` with that message.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Callable
from typing import IO, Any

from pyinfra.connectors.ssh.connect import SSHConnection
from pyinfra.connectors.ssh.process import send_eof

_CHUNK = 1 << 20


class SCPError(OSError):
    """The remote scp refused or failed (its message is the text)."""


class _Channel:
    """Buffered reads on an exec channel running scp."""

    def __init__(self, connection: SSHConnection, command: str) -> None:
        self.channel = connection.open_channel()
        self.channel.exec_command(command)
        self._buffer = bytearray()

    def stderr(self) -> str:
        chunks = []
        with contextlib.suppress(Exception):
            while self.channel.recv_stderr_ready():
                chunks.append(self.channel.recv_stderr(65536))
        return b"".join(chunks).decode(errors="replace").strip()

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            chunk = self.channel.recv(_CHUNK)
            if not chunk:
                self.channel.status_event.wait(2)
                detail = self.stderr() or f"exit status {self.channel.exit_status}"
                raise SCPError(f"scp ended unexpectedly: {detail}")
            self._buffer += chunk

    def read(self, size: int) -> bytes:
        if size:
            self._fill(1)
        size = min(size, len(self._buffer))
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def line(self) -> bytes:
        while b"\n" not in self._buffer:
            before = len(self._buffer)
            self._fill(before + 1)
        end = self._buffer.index(b"\n") + 1
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data

    def ack(self) -> None:
        """Read one scp acknowledgement (``\\0``); raise its message otherwise."""
        self._fill(1)
        code = self._buffer[0]
        if code == 0:
            del self._buffer[:1]
            return
        message = self.line()[1:].decode(errors="replace").strip()
        raise SCPError(message or f"scp error code {code}")

    def finish(self) -> int:
        with contextlib.suppress(Exception):
            send_eof(self.channel)
        self.channel.status_event.wait(30)
        status = int(self.channel.exit_status)
        self.channel.close()
        return status

    def close(self) -> None:
        self.channel.close()


def scp_upload(
    connection: SSHConnection,
    remote_path: str,
    source: IO[bytes],
    size: int,
    mode: int = 0o600,
) -> None:
    """Write ``size`` bytes from ``source`` to ``remote_path`` (created with ``mode``)."""
    scp = _Channel(connection, f"scp -t -- {shlex.quote(remote_path)}")
    try:
        scp.ack()
        name = remote_path.rstrip("/").rsplit("/", 1)[-1] or "file"
        scp.channel.sendall(f"C{mode & 0o7777:04o} {size} {name}\n".encode())
        scp.ack()
        remaining = size
        while remaining > 0:
            chunk = source.read(min(_CHUNK, remaining))
            if not chunk:
                raise SCPError(f"the upload source ended {remaining} bytes early")
            scp.channel.sendall(chunk)
            remaining -= len(chunk)
        scp.channel.sendall(b"\0")
        scp.ack()
        status = scp.finish()
        if status != 0:
            raise SCPError(scp.stderr() or f"scp exited with status {status}")
    finally:
        scp.close()


def scp_download(
    connection: SSHConnection,
    remote_path: str,
    sink: Callable[[bytes], Any],
) -> int:
    """Stream ``remote_path`` into ``sink``; returns the number of bytes."""
    scp = _Channel(connection, f"scp -f -- {shlex.quote(remote_path)}")
    try:
        scp.channel.sendall(b"\0")
        header = scp.line()
        while header[:1] == b"T":  # times (only with -p): acknowledge and go on
            scp.channel.sendall(b"\0")
            header = scp.line()
        if header[:1] in (b"\x01", b"\x02"):
            raise SCPError(header[1:].decode(errors="replace").strip())
        if header[:1] != b"C":
            raise SCPError(f"unexpected scp header {header[:60]!r}")
        try:
            size = int(header.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise SCPError(f"bad scp header {header[:60]!r}") from None
        scp.channel.sendall(b"\0")
        remaining = size
        while remaining > 0:
            data = scp.read(min(_CHUNK, remaining))
            sink(data)
            remaining -= len(data)
        scp.ack()
        scp.channel.sendall(b"\0")
        scp.finish()
        return size
    finally:
        scp.close()
