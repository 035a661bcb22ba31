"""File transfer through a command's stdin/stdout, for any target that runs commands.

Uploads stream into a private temp file next to the target (``mktemp``: mode 600,
unpredictable name), take over the mode/owner of the file they replace, and are moved
into place with one ``mv`` (atomic on one filesystem); the temp file is removed on
any failure. Downloads stream ``cat`` into a local temp file that replaces the local
target only once complete.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import TransferError
from pyinfra.connectors._runner.scripts import script


def new_upload_token() -> str:
    return secrets.token_hex(12)


def upload_command(remote_filename: str, size: int, token: str | None = None) -> StringCommand:
    """Command that writes exactly ``size`` bytes of its stdin to ``remote_filename``,
    atomically; anything short fails and leaves the target as it was."""
    return StringCommand(
        "sh",
        "-c",
        QuoteString(script("upload")),
        "pyinfra-upload",
        QuoteString(remote_filename),
        QuoteString(token or new_upload_token()),
        str(int(size)),
    )


def upload_cleanup_command(remote_filename: str, token: str) -> StringCommand:
    """Removes the temp file of an upload that was killed before its own cleanup ran."""
    return StringCommand(
        "sh",
        "-c",
        QuoteString(script("upload-cleanup")),
        "pyinfra-cleanup",
        QuoteString(remote_filename),
        QuoteString(token),
    )


def download_command(remote_filename: str) -> StringCommand:
    """Command that writes ``remote_filename`` to stdout."""
    return StringCommand(
        "sh",
        "-c",
        QuoteString(script("download")),
        "pyinfra-download",
        QuoteString(remote_filename),
    )


@contextlib.contextmanager
def open_upload_source(filename_or_io: str | IO[Any]) -> Iterator[IO[bytes]]:
    """A binary stream of what to upload, from a path or an IO object (text or bytes)."""
    if isinstance(filename_or_io, (str, os.PathLike)):
        with open(filename_or_io, "rb") as handle:
            yield handle
        return
    fileobj = filename_or_io
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fileobj.seek(0)
    sample = fileobj.read(0)
    if isinstance(sample, str):
        import io

        yield io.BytesIO(fileobj.read().encode())
        return
    yield fileobj


def known_size(filename_or_io: str | IO[Any]) -> int | None:
    """The size of an upload source if it can be known without reading it (a path, or a
    stream that can seek: all of it, as uploads start from its beginning), else None."""
    if isinstance(filename_or_io, (str, os.PathLike)):
        try:
            return os.stat(filename_or_io).st_size
        except OSError:
            return None
    try:
        start = filename_or_io.tell()
        end = filename_or_io.seek(0, os.SEEK_END)
        filename_or_io.seek(start)
    except (OSError, ValueError, AttributeError):
        return None
    return int(end)


@contextlib.contextmanager
def open_sized_upload_source(filename_or_io: str | IO[Any]) -> Iterator[tuple[IO[bytes], int]]:
    """``(stream, size)`` of what to upload. A stream that cannot seek is first spooled
    to a private temp file, so a source that fails does so before anything is sent."""
    with open_upload_source(filename_or_io) as source:
        try:
            start = source.tell()
            size = source.seek(0, os.SEEK_END) - start
            source.seek(start)
        except (OSError, ValueError, AttributeError):
            with tempfile.SpooledTemporaryFile(max_size=32 << 20) as spool:
                while chunk := source.read(1 << 20):
                    spool.write(chunk)
                size = spool.tell()
                spool.seek(0)
                yield spool, size
            return
        yield source, size


def replace_local_file(
    dest: str, filename_or_io: str | IO[Any], where: str, shown_directory: str | None = None
) -> None:
    """Write an upload to ``dest`` on this machine: a private temp file in the same
    directory, fsync, the replaced file's mode and owner (if it was a regular file),
    then one atomic rename. On any failure the target is untouched and the temp gone.

    ``where`` starts every error message (e.g. ``"web1: upload to /x failed"``);
    ``shown_directory`` is the parent as the user knows it (inside a chroot, say).
    """
    directory = os.path.dirname(dest) or "."
    if not os.path.isdir(directory):
        raise TransferError(f"{where}: directory {shown_directory or directory} does not exist")
    try:
        existing: os.stat_result | None = os.lstat(dest)
    except FileNotFoundError:
        existing = None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise TransferError(f"{where}: it is a directory")
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pyinfra-upload.")
        with os.fdopen(fd, "wb") as out, open_upload_source(filename_or_io) as source:
            shutil.copyfileobj(source, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        if existing is not None and stat.S_ISREG(existing.st_mode):
            os.chmod(tmp, existing.st_mode & 0o7777)
            with contextlib.suppress(PermissionError):
                os.chown(tmp, existing.st_uid, existing.st_gid)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, dest)
        tmp = None
    except OSError as exc:
        raise TransferError(f"{where}: {exc.strerror or exc} (target left unchanged)") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


class DownloadTarget:
    """Where downloaded bytes go: an IO object, or a path replaced atomically at commit."""

    def __init__(self, filename_or_io: str | IO[Any]) -> None:
        self.path: str | None = None
        self._tmp: str | None = None
        self._handle: IO[bytes] | None = None
        self._text = False
        self._textbuf: bytearray | None = None
        if isinstance(filename_or_io, (str, os.PathLike)):
            self.path = os.fspath(filename_or_io)
            directory = os.path.dirname(os.path.abspath(self.path))
            fd, self._tmp = tempfile.mkstemp(dir=directory, prefix=".pyinfra-download.")
            self._handle = os.fdopen(fd, "wb")
        else:
            self._io = filename_or_io
            try:
                filename_or_io.write(b"")
            except TypeError:
                self._text = True
                self._textbuf = bytearray()

    @property
    def write(self) -> Callable[[bytes], Any]:
        if self._handle is not None:
            return self._handle.write
        if self._textbuf is not None:
            return self._textbuf.extend
        return self._io.write

    def commit(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            assert self.path is not None and self._tmp is not None
            if os.path.exists(self.path):
                with contextlib.suppress(OSError):
                    os.chmod(self._tmp, os.stat(self.path).st_mode & 0o7777)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(self._tmp, 0o666 & ~umask)
            os.replace(self._tmp, self.path)
            self._tmp = None
        elif self._textbuf is not None:
            self._io.write(self._textbuf.decode("utf-8", errors="replace"))

    def __enter__(self) -> Callable[[bytes], Any]:
        return self.write

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        """Commit when the block succeeded, remove the partial download otherwise."""
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()

    def abort(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._tmp = None
