"""A small SFTP (version 3) client for fast, checked file transfers on one channel.

Why not ``paramiko.SFTPClient``: its pipelined writes drop the status of most write
requests (a full disk shows up only as a size mismatch), and its 32 KiB requests do not
fit one SSH packet. Here every write is sized to fill exactly one SSH packet, up to
:data:`MAX_OUTSTANDING` requests are in flight, every status is checked, and reads are
prefetched in large requests and reassembled in order.

Only what file transfer needs: open/close, pipelined read/write, stat/fstat/fsetstat,
remove, rename (``posix-rename@openssh.com`` when offered), ``statvfs@openssh.com`` and
``fsync@openssh.com``. Not thread-safe: callers serialise (one lock per session).
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

# Packet types
INIT, VERSION, OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT, SETSTAT, FSETSTAT = (
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
)
REMOVE, RENAME, STAT = 13, 18, 17
STATUS, HANDLE, DATA, NAME, ATTRS = 101, 102, 103, 104, 105
EXTENDED, EXTENDED_REPLY = 200, 201

# Open flags
O_READ, O_WRITE, O_APPEND, O_CREAT, O_TRUNC, O_EXCL = 1, 2, 4, 8, 0x10, 0x20

# Attribute flags
A_SIZE, A_UIDGID, A_PERMISSIONS, A_ACMODTIME, A_EXTENDED = 1, 2, 4, 8, 0x80000000

# Status codes
OK, EOF, NO_SUCH_FILE, PERMISSION_DENIED, FAILURE, BAD_MESSAGE, NO_CONNECTION = range(7)
CONNECTION_LOST, OP_UNSUPPORTED = 7, 8

_ERRNO = {
    NO_SUCH_FILE: errno.ENOENT,
    PERMISSION_DENIED: errno.EACCES,
    OP_UNSUPPORTED: errno.EOPNOTSUPP,
}

MAX_OUTSTANDING = 64  # requests in flight
MAX_MESSAGE = 256 * 1024  # OpenSSH's sftp-server refuses longer messages
WRITE_PACKETS = 7  # SSH packets per WRITE request
WRITE_INFLIGHT = 4 * 1024 * 1024  # bytes of WRITE requests in flight
READ_SIZE = 255 * 1024  # OpenSSH's sftp-server answers reads of up to 255 KiB
SINK_BLOCK = 4 * 1024 * 1024  # downloaded data is handed on in blocks of this size
CHANNEL_WINDOW = 16 * 1024 * 1024  # receive window of the sftp channel
_RECV = 1 << 20


class SFTPError(OSError):
    """An SFTP status other than OK (``errno`` set when it maps to one)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(_ERRNO.get(code, errno.EIO), message or f"SFTP status {code}")
        self.code = code


@dataclass
class Attributes:
    size: int | None = None
    uid: int | None = None
    gid: int | None = None
    permissions: int | None = None

    @property
    def is_dir(self) -> bool:
        return self.permissions is not None and (self.permissions & 0o170000) == 0o040000

    def pack(self) -> bytes:
        flags, body = 0, b""
        if self.size is not None:
            flags |= A_SIZE
            body += struct.pack(">Q", self.size)
        if self.uid is not None and self.gid is not None:
            flags |= A_UIDGID
            body += struct.pack(">II", self.uid, self.gid)
        if self.permissions is not None:
            flags |= A_PERMISSIONS
            body += struct.pack(">I", self.permissions)
        return struct.pack(">I", flags) + body


def _string(value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return struct.pack(">I", len(data)) + data


class _Reader:
    """Parses fields out of one packet body."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u32(self) -> int:
        (value,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return int(value)

    def u64(self) -> int:
        (value,) = struct.unpack_from(">Q", self.data, self.pos)
        self.pos += 8
        return int(value)

    def string(self) -> bytes:
        length = self.u32()
        value = self.data[self.pos : self.pos + length]
        self.pos += length
        return value

    def attrs(self) -> Attributes:
        flags = self.u32()
        out = Attributes()
        if flags & A_SIZE:
            out.size = self.u64()
        if flags & A_UIDGID:
            out.uid, out.gid = self.u32(), self.u32()
        if flags & A_PERMISSIONS:
            out.permissions = self.u32()
        if flags & A_ACMODTIME:
            self.pos += 8
        if flags & A_EXTENDED:
            for _ in range(self.u32()):
                self.string()
                self.string()
        return out


class SFTPSession:
    """SFTP over an open paramiko channel on which the ``sftp`` subsystem was started."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self._buffer = bytearray()
        self._pos = 0
        self.broken = False  # out of step after an interrupted transfer: open a new one
        self._next_id = 1
        self.extensions: dict[str, bytes] = {}
        self._send(INIT, struct.pack(">I", 3))
        kind, body = self._recv_packet()
        if kind != VERSION:
            raise SFTPError(BAD_MESSAGE, f"unexpected SFTP packet {kind} instead of VERSION")
        reader = _Reader(body)
        self.version = reader.u32()
        while reader.pos < len(body):
            name = reader.string().decode(errors="replace")
            self.extensions[name] = reader.string()

    def close(self) -> None:
        self.channel.close()

    # -- packets -------------------------------------------------------------------------

    def _send(self, kind: int, payload: bytes) -> None:
        self.channel.sendall(struct.pack(">IB", len(payload) + 1, kind) + payload)

    def _fill(self, size: int) -> None:
        """Have ``size`` unread bytes in the buffer (unread data starts at ``_pos``)."""
        while len(self._buffer) - self._pos < size:
            if self._pos:
                del self._buffer[: self._pos]  # compact only when we must read more
                self._pos = 0
            chunk = self.channel.recv(_RECV)
            if not chunk:
                raise SFTPError(CONNECTION_LOST, "the SFTP channel was closed")
            self._buffer += chunk

    def _next_packet(self) -> tuple[int, int, int]:
        """Wait for a whole packet: ``(kind, start of its body, end)`` in the buffer; the
        caller consumes it by setting ``_pos`` to ``end``."""
        self._fill(4)
        (length,) = struct.unpack_from(">I", self._buffer, self._pos)
        self._fill(4 + length)
        start = self._pos + 4
        return self._buffer[start], start + 1, start + length

    def _recv_packet(self) -> tuple[int, bytes]:
        kind, start, end = self._next_packet()
        body = bytes(self._buffer[start:end])
        self._pos = end
        return kind, body

    def _request(self, kind: int, payload: bytes) -> int:
        request_id = self._next_id
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        self._send(kind, struct.pack(">I", request_id) + payload)
        return request_id

    def _response(self, request_id: int) -> tuple[int, _Reader]:
        kind, body = self._recv_packet()
        reader = _Reader(body)
        got = reader.u32()
        if got != request_id:
            raise SFTPError(BAD_MESSAGE, f"SFTP reply {got} does not match request {request_id}")
        return kind, reader

    @staticmethod
    def _check_status(kind: int, reader: _Reader) -> None:
        if kind != STATUS:
            raise SFTPError(BAD_MESSAGE, f"unexpected SFTP packet {kind} instead of STATUS")
        code = reader.u32()
        if code != OK:
            raise SFTPError(code, reader.string().decode(errors="replace"))

    def _call(self, kind: int, payload: bytes) -> tuple[int, _Reader]:
        return self._response(self._request(kind, payload))

    def _call_status(self, kind: int, payload: bytes) -> None:
        self._check_status(*self._call(kind, payload))

    # -- operations ----------------------------------------------------------------------

    def open(self, path: str, flags: int, attrs: Attributes | None = None) -> bytes:
        kind, reader = self._call(
            OPEN, _string(path) + struct.pack(">I", flags) + (attrs or Attributes()).pack()
        )
        if kind == HANDLE:
            return reader.string()
        self._check_status(kind, reader)
        raise SFTPError(BAD_MESSAGE, "SFTP open returned no handle")

    def close_handle(self, handle: bytes) -> None:
        self._call_status(CLOSE, _string(handle))

    def _attrs(self, kind: int, reader: _Reader) -> Attributes:
        if kind == ATTRS:
            return reader.attrs()
        self._check_status(kind, reader)
        raise SFTPError(BAD_MESSAGE, "SFTP stat returned no attributes")

    def stat(self, path: str) -> Attributes | None:
        """Attributes of ``path`` (following links), or None when it does not exist."""
        try:
            return self._attrs(*self._call(STAT, _string(path)))
        except SFTPError as exc:
            if exc.code == NO_SUCH_FILE:
                return None
            raise

    def fstat(self, handle: bytes) -> Attributes:
        return self._attrs(*self._call(FSTAT, _string(handle)))

    def fsetstat(self, handle: bytes, attrs: Attributes) -> None:
        self._call_status(FSETSTAT, _string(handle) + attrs.pack())

    def remove(self, path: str) -> None:
        self._call_status(REMOVE, _string(path))

    def rename(self, old: str, new: str) -> None:
        """Atomic replace with ``posix-rename@openssh.com``; plain RENAME otherwise
        (which fails when ``new`` exists)."""
        if "posix-rename@openssh.com" in self.extensions:
            self._call_status(
                EXTENDED, _string("posix-rename@openssh.com") + _string(old) + _string(new)
            )
        else:
            self._call_status(RENAME, _string(old) + _string(new))

    def fsync(self, handle: bytes) -> None:
        if "fsync@openssh.com" in self.extensions:
            self._call_status(EXTENDED, _string("fsync@openssh.com") + _string(handle))

    def free_bytes(self, path: str) -> int | None:
        """Bytes available to the user on the filesystem of ``path`` (None: unknown)."""
        if "statvfs@openssh.com" not in self.extensions:
            return None
        kind, reader = self._call(EXTENDED, _string("statvfs@openssh.com") + _string(path))
        if kind != EXTENDED_REPLY:
            return None
        _bsize, frsize, _blocks, _bfree, bavail = (reader.u64() for _ in range(5))
        return frsize * bavail

    # -- bulk data -----------------------------------------------------------------------

    def write_chunk_size(self, handle: bytes) -> int:
        """Payload size that makes one WRITE request exactly fill :data:`WRITE_PACKETS`
        SSH packets (paramiko sends at most ``max packet - 64`` bytes per packet) while
        staying under the 256 KiB message limit of OpenSSH's sftp-server."""
        packet = int(getattr(self.channel, "out_max_packet_size", 32768)) - 64
        overhead = 4 + 1 + 4 + 4 + len(handle) + 8 + 4
        packets = max(1, min(WRITE_PACKETS, (MAX_MESSAGE - 1024) // max(packet, 1)))
        return max(1024, packets * packet - overhead)

    def write_from(self, handle: bytes, source: IO[bytes]) -> int:
        """Write everything ``source`` yields at offsets 0.., pipelined; every status is
        checked (the first error is raised once the in-flight requests are drained).
        Returns the number of bytes written."""
        pending: list[int] = []
        try:
            error, written = self._write_blocks(handle, source, pending)
        except BaseException:
            self._drain(len(pending))  # e.g. the local source failed: keep the session usable
            raise
        while pending:
            error = self._finish_write(pending, error)
        if error is not None:
            raise error
        return written

    def _write_blocks(
        self, handle: bytes, source: IO[bytes], pending: list[int]
    ) -> tuple[SFTPError | None, int]:
        chunk = self.write_chunk_size(handle)
        prefix = _string(handle)
        max_pending = max(2, WRITE_INFLIGHT // chunk)
        error: SFTPError | None = None
        offset = 0
        channel = self.channel
        while error is None:
            block = source.read(chunk * 4)
            if not block:
                break
            view = memoryview(block)
            for start in range(0, len(view), chunk):
                piece = view[start : start + chunk]
                request_id = self._next_id
                self._next_id = (self._next_id + 1) & 0xFFFFFFFF
                header = struct.pack(
                    ">IBI", 4 + 1 + len(prefix) + 8 + 4 + len(piece), WRITE, request_id
                )
                channel.sendall(
                    b"".join((header, prefix, struct.pack(">QI", offset, len(piece)), piece))
                )
                pending.append(request_id)
                offset += len(piece)
                while len(pending) >= max_pending or (pending and channel.recv_ready()):
                    error = self._finish_write(pending, error)
                if error is not None:
                    break
        return error, offset

    def _drain(self, count: int) -> None:
        """Read and drop ``count`` outstanding replies; a session that cannot be brought
        back in step is marked ``broken`` (the caller opens a new one)."""
        try:
            for _ in range(count):
                self._recv_packet()
        except Exception:  # noqa: BLE001 - the channel is gone or out of step
            self.broken = True

    def _finish_write(self, pending: list[int], error: SFTPError | None) -> SFTPError | None:
        kind, reader = self._response(pending.pop(0))
        try:
            self._check_status(kind, reader)
        except SFTPError as exc:
            return error or exc
        return error

    def read_into(self, handle: bytes, size_hint: int, sink: Callable[[bytes], Any]) -> int:
        """Read the whole file from offset 0 into ``sink`` (in order), prefetching up to
        :data:`MAX_OUTSTANDING` requests; stops at the server's EOF."""
        prefix = _string(handle)
        inflight: dict[int, tuple[int, int]] = {}  # request id -> (offset, length)
        order: list[int] = []  # request ids in offset order
        done: dict[int, bytes] = {}
        written = 0
        next_offset = 0
        eof_at: int | None = None
        max_inflight = max(2, min(MAX_OUTSTANDING // 4, size_hint // READ_SIZE + 2))
        # Few system calls in this thread: while it is in one, paramiko's busy transport
        # thread holds the GIL (up to the 5 ms switch interval). So requests go out in
        # batches (one SSH packet) and data reaches the sink in large pieces.
        out: list[bytes] = []
        out_size = 0

        def ask_more() -> None:
            nonlocal next_offset
            packets = []
            while len(inflight) < max_inflight:
                request_id = self._next_id
                self._next_id = (self._next_id + 1) & 0xFFFFFFFF
                body = struct.pack(">I", request_id) + prefix
                body += struct.pack(">QI", next_offset, READ_SIZE)
                packets.append(struct.pack(">IB", len(body) + 1, READ) + body)
                inflight[request_id] = (next_offset, READ_SIZE)
                order.append(request_id)
                next_offset += READ_SIZE
            self.channel.sendall(b"".join(packets))

        def deliver(data: bytes) -> None:
            nonlocal out_size, written
            out.append(data)
            out_size += len(data)
            written += len(data)
            if out_size >= SINK_BLOCK:
                flush()

        def flush() -> None:
            nonlocal out_size
            if out:
                sink(out[0] if len(out) == 1 else b"".join(out))
                out.clear()
                out_size = 0

        try:
            while True:
                if eof_at is None and len(inflight) <= max_inflight // 2:
                    ask_more()
                if not order:
                    break
                kind, start, end = self._next_packet()
                (request_id,) = struct.unpack_from(">I", self._buffer, start)
                if request_id not in inflight:
                    raise SFTPError(BAD_MESSAGE, f"unexpected SFTP reply {request_id}")
                offset, length = inflight.pop(request_id)
                if kind == DATA:
                    (size,) = struct.unpack_from(">I", self._buffer, start + 4)
                    data = bytes(self._buffer[start + 8 : start + 8 + size])  # the only copy
                    self._pos = end
                    if len(data) < length and eof_at is None:
                        # A short read: ask for the rest (keeping the order of the pieces).
                        rest = self._request(
                            READ,
                            prefix + struct.pack(">QI", offset + len(data), length - len(data)),
                        )
                        inflight[rest] = (offset + len(data), length - len(data))
                        order.insert(order.index(request_id) + 1, rest)
                    done[request_id] = data
                else:
                    reader = _Reader(bytes(self._buffer[start + 4 : end]))
                    self._pos = end
                    try:
                        self._check_status(kind, reader)
                    except SFTPError as exc:
                        if exc.code != EOF:
                            raise
                    eof_at = offset if eof_at is None else min(eof_at, offset)
                    done[request_id] = b""
                while order and order[0] in done:
                    data = done.pop(order.pop(0))
                    if data:
                        deliver(data)
            flush()
        except BaseException:
            self._drain(len(inflight))  # e.g. the sink failed: keep the session usable
            raise
        return written
