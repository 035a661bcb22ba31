"""Moving file bytes over one SSH connection: sftp (default) or scp.

The SSH connector decides *how* a file goes (:mod:`.connector`: plainly as the login
user, staged and installed by an escalated command, or streamed through the escalated
command itself); this module only moves the bytes, on the connection it is given, and
never calls back into the connector.

Plain uploads: the data goes to ``DIR/.pyinfra-upload.<random>`` next to the target,
created with mode 600 (sftp: ``O_EXCL``), takes over the mode and owner of the file it
replaces (new files: ``0666 & ~umask``), and is then renamed over the target in one step
(``posix-rename@openssh.com``; scp: ``mv -f``): readers see the old or the new file,
never a partial one. On any failure the temp file is removed and the target is
untouched. (No fsync before the rename, like scp and rsync: it cost ~13% of upload
throughput on disk, and ext4/xfs flush the data of a file renamed over another.)

Staged uploads (:meth:`SSHFileTransfer.stage`): the data goes to a private temp file
in the temp directory (mode 600, 128-bit random name, owned by the login user), for an
escalated command to install.

Plain downloads: prefetched sftp reads (or ``scp -f``) into a local temp file that
replaces the local target only once complete.

Faults: a transfer whose connection is lost raises a one-line ``TransferError``; a temp
file it could not remove then (the connection is gone) is recorded in the connection's
``leftovers`` and removed by the next connection to the host. :meth:`SSHFileTransfer.abort`
(a disconnect, Ctrl-C) makes the transfers in flight stop at their next block and
remove their temp files.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import secrets
import threading
from collections.abc import Iterator
from typing import IO, Any

import paramiko

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import ConnectError, TransferError
from pyinfra.connectors._runner.scripts import script
from pyinfra.connectors._runner.transfer import (
    DownloadTarget,
    open_sized_upload_source,
    open_upload_source,
)
from pyinfra.connectors.ssh.connect import SSHConnection
from pyinfra.connectors.ssh.process import run_helper
from pyinfra.connectors.ssh.scp import SCPError, scp_download, scp_upload
from pyinfra.connectors.ssh.sftp import (
    CHANNEL_WINDOW,
    NO_SUCH_FILE,
    O_CREAT,
    O_EXCL,
    O_READ,
    O_TRUNC,
    O_WRITE,
    PERMISSION_DENIED,
    Attributes,
    SFTPError,
    SFTPSession,
)

logger = logging.getLogger("pyinfra")


class _SourceError(Exception):
    """Reading the local upload source failed."""


class _SinkError(Exception):
    """Writing the downloaded data locally failed."""


class _Stopped(Exception):
    """The transfer was stopped (a disconnect, Ctrl-C)."""


class _Source:
    """Wraps the upload source so that local read errors are told apart, and a stop
    request is seen at the next block."""

    def __init__(self, handle: IO[bytes], stop: threading.Event) -> None:
        self.handle = handle
        self.stop = stop

    def read(self, size: int = -1) -> bytes:
        if self.stop.is_set():
            raise _Stopped
        try:
            return self.handle.read(size)
        except OSError as exc:
            raise _SourceError(str(exc.strerror or exc)) from exc

    def tell(self) -> int:
        return self.handle.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)


def install_command(staged: str, remote: str) -> StringCommand:
    """The command (to run escalated) that installs a staged upload at ``remote``."""
    return StringCommand(
        "sh",
        "-c",
        QuoteString(script("install-staged")),
        "pyinfra-install",
        QuoteString(staged),
        QuoteString(remote),
    )


class SSHFileTransfer:
    """put/get/stage for one connection. One sftp session, opened on first use and
    reused; transfers on the same host are serialised on it."""

    def __init__(self, connection: SSHConnection) -> None:
        self.connection = connection
        self.name = connection.settings.name
        self.protocol = connection.settings.transfer_protocol
        self._lock = threading.Lock()
        self._sftp: SFTPSession | None = None
        self._umask: int | None = None
        self._stop = threading.Event()
        self._temps: set[str] = set()
        self._temps_lock = threading.Lock()

    @contextlib.contextmanager
    def _writing(self, temp: str) -> Iterator[None]:
        """``temp`` is being written (see :meth:`unfinished`)."""
        with self._temps_lock:
            self._temps.add(temp)
        try:
            yield
        finally:
            with self._temps_lock:
                self._temps.discard(temp)

    def unfinished(self) -> list[str]:
        """The temp files of transfers still in flight (a transfer stuck on a server
        that stopped reading never gets to remove its own)."""
        with self._temps_lock:
            return sorted(self._temps)

    def remove_unfinished(self) -> None:
        """Remove the temp files of the transfers still in flight (before a disconnect;
        what cannot be removed now is left for the next connection)."""
        for path in self.unfinished():
            self._remove_quietly(path)

    def abort(self) -> None:
        """Make every transfer in flight stop at its next block (it then removes its
        temp file and raises ``TransferError``); later transfers are not affected."""
        stop, self._stop = self._stop, threading.Event()
        stop.set()

    def close(self) -> None:
        sftp, self._sftp = self._sftp, None
        if sftp is not None:
            with contextlib.suppress(Exception):
                sftp.close()

    @property
    def _timeout(self) -> float:
        return self.connection.settings.connect_timeout

    # -- public --------------------------------------------------------------------------

    def put(self, filename_or_io: str | IO[Any], remote: str) -> None:
        """Upload to ``remote`` as the login user, atomically."""
        with self._reading(filename_or_io, remote) as source:
            directory = posixpath.dirname(remote) or "."
            with self._lock, self._network("upload to", remote):
                sftp = self._session()
                if sftp is None:
                    self._put_scp(source, remote, directory)
                    return
                self._put_sftp(sftp, source, remote, directory)

    def stage(self, filename_or_io: str | IO[Any], temp_dir: str, remote: str) -> str:
        """Upload into a new private file (mode 600) in ``temp_dir``; its path. The
        caller installs it at ``remote`` and then calls :meth:`remove_staged`."""
        staged = posixpath.join(temp_dir, f"pyinfra-upload-{secrets.token_hex(16)}")
        with self._temps_lock:
            self._temps.add(staged)  # until remove_staged
        try:
            with (
                self._reading(filename_or_io, remote) as source,
                self._lock,
                self._network("upload to", remote),
            ):
                sftp = self._session()
                if sftp is None:
                    try:
                        self._scp_send(source, staged)
                    except SCPError as exc:
                        raise self._fail(
                            "upload to", staged, f"{exc} (target left unchanged)"
                        ) from None
                else:
                    self._stage_sftp(sftp, source, staged, temp_dir, remote)
        except BaseException:
            self.remove_staged(staged)
            raise
        return staged

    def remove_staged(self, staged: str) -> None:
        """Remove a staged file (the install command normally did already)."""
        with self._temps_lock:
            self._temps.discard(staged)
        with self._lock:
            sftp = self._sftp
            if sftp is not None and not sftp.broken and self.connection.active:
                try:
                    sftp.remove(staged)
                    return
                except SFTPError as exc:
                    if exc.code == NO_SUCH_FILE:
                        return
                except (OSError, EOFError, paramiko.SSHException):
                    pass  # the session is gone: try a command, else leave it for later
        self._remove_quietly(staged)

    def get(self, remote: str, filename_or_io: str | IO[Any]) -> None:
        """Download ``remote`` as the login user; a local path is replaced atomically."""
        target = DownloadTarget(filename_or_io)
        write = target.write
        stop = self._stop

        def sink(data: bytes) -> None:
            if stop.is_set():
                raise _Stopped
            try:
                write(data)
            except OSError as exc:
                raise _SinkError(str(exc.strerror or exc)) from exc

        try:
            with self._network("download of", remote):
                self._get_plain(remote, sink)
            target.commit()
        except _SinkError as exc:
            target.abort()
            raise self._fail(
                "download of", remote, f"writing to {filename_or_io!r} failed: {exc}"
            ) from None
        except _Stopped:
            target.abort()
            raise self._fail("download of", remote, "stopped (interrupted)") from None
        except BaseException:
            target.abort()
            raise

    # -- sources and errors --------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self, filename_or_io: str | IO[Any], remote: str) -> Iterator[_Source]:
        """The upload source, with its failures and the sftp errors translated."""
        try:
            opened = open_upload_source(filename_or_io)
            handle = opened.__enter__()
        except OSError as exc:
            raise TransferError(
                f"{self.name}: cannot read upload source {filename_or_io!r}: {exc.strerror or exc}"
            ) from None
        with contextlib.ExitStack() as stack:
            stack.push(opened)
            try:
                yield _Source(handle, self._stop)
            except _Stopped:
                raise self._fail(
                    "upload to", remote, "stopped (interrupted); target left unchanged"
                ) from None
            except _SourceError as exc:
                raise TransferError(
                    f"{self.name}: reading upload source {filename_or_io!r} failed: {exc} "
                    "(target left unchanged)"
                ) from None
            except SFTPError as exc:
                raise self._fail(
                    "upload to", remote, f"{exc.strerror} (target left unchanged)"
                ) from None

    def _fail(self, what: str, remote: str, detail: str) -> TransferError:
        return TransferError(f"{self.name}: {what} {remote} failed: {detail}")

    def _lost(self, exc: BaseException, what: str = "", remote: str = "") -> TransferError:
        self.close()
        detail = self.connection.lost_reason or str(exc) or type(exc).__name__
        if not what:
            return TransferError(
                f"{self.name}: the SSH connection was lost during the transfer ({detail})"
            )
        return TransferError(
            f"{self.name}: {what} {remote} failed: the SSH connection was lost ({detail}); "
            "target left unchanged"
        )

    @contextlib.contextmanager
    def _network(self, what: str, remote: str) -> Iterator[None]:
        """Translate the connection's own failures (raised by paramiko as
        ``SSHException``/``EOFError``, or ``OSError("Socket is closed")``) into one line;
        our SFTP/scp errors and the ``ConnectError`` of a lost connection pass."""
        try:
            yield
        except (paramiko.SSHException, EOFError) as exc:
            raise self._lost(exc, what, remote) from None
        except OSError as exc:
            if isinstance(exc, (SFTPError, SCPError)) and self.connection.active:
                raise
            raise self._lost(exc, what, remote) from None

    # -- sftp session --------------------------------------------------------------------

    def _session(self) -> SFTPSession | None:
        """The sftp session, or None when this host uses scp (or has no sftp)."""
        if self.protocol != "sftp":
            return None
        if self._sftp is None:
            channel = self.connection.open_channel(CHANNEL_WINDOW)
            try:
                channel.invoke_subsystem("sftp")
                self._sftp = SFTPSession(channel)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                channel.close()
                if not self.connection.active:
                    raise self._lost(exc) from None
                logger.warning(
                    "%s: the SSH server offers no sftp subsystem (%s); using scp instead",
                    self.name,
                    exc or type(exc).__name__,
                )
                self.protocol = "scp"
                return None
        return self._sftp

    def _umask_value(self) -> int:
        if self._umask is None:
            ok, output = run_helper(self.connection, "umask", self._timeout)
            try:
                self._umask = int(output.stdout.strip() or "022", 8) if ok else 0o022
            except ValueError:
                self._umask = 0o022
        return self._umask

    # -- uploads -------------------------------------------------------------------------

    def _put_sftp(self, sftp: SFTPSession, source: _Source, remote: str, directory: str) -> None:
        what = "upload to"
        folder = sftp.stat(directory)
        if folder is None or not folder.is_dir:
            raise self._fail(
                what, remote, f"directory {directory} does not exist (target left unchanged)"
            )
        existing = sftp.stat(remote)
        if existing is not None and existing.is_dir:
            raise self._fail(what, remote, "it is a directory")
        temp = posixpath.join(directory, f".pyinfra-upload.{secrets.token_hex(8)}")
        with self._writing(temp):
            self._put_sftp_temp(sftp, source, remote, directory, existing, temp)

    def _put_sftp_temp(
        self,
        sftp: SFTPSession,
        source: _Source,
        remote: str,
        directory: str,
        existing: Attributes | None,
        temp: str,
    ) -> None:
        what = "upload to"
        try:
            handle = sftp.open(
                temp, O_WRITE | O_CREAT | O_EXCL | O_TRUNC, Attributes(permissions=0o600)
            )
        except SFTPError as exc:
            hint = " (use _sudo?)" if exc.code == PERMISSION_DENIED else ""
            raise self._fail(
                what, remote, f"cannot create a file in {directory}: {exc.strerror}{hint}"
            ) from None
        opened = True
        try:
            try:
                written = sftp.write_from(handle, source)  # type: ignore[arg-type]
            except SFTPError as exc:
                raise self._fail(what, remote, self._write_error(sftp, directory, exc)) from None
            mode = (
                (existing.permissions or 0o644) & 0o7777
                if existing
                else (0o666 & ~self._umask_value())
            )
            sftp.fsetstat(handle, Attributes(permissions=mode))
            if existing is not None and existing.uid is not None and existing.gid is not None:
                with contextlib.suppress(SFTPError):  # only root may give files away
                    sftp.fsetstat(handle, Attributes(uid=existing.uid, gid=existing.gid))
            try:
                opened = False
                sftp.close_handle(handle)
            except SFTPError as exc:
                raise self._fail(what, remote, self._write_error(sftp, directory, exc)) from None
            sftp.rename(temp, remote)
            logger.debug("%s: uploaded %d bytes to %s (sftp)", self.name, written, remote)
        except BaseException:
            self._discard(sftp, handle if opened else None, temp)
            raise

    def _release(self, sftp: SFTPSession, handle: bytes) -> None:
        """Close a handle after a transfer; a session that got out of step is dropped."""
        if sftp.broken:
            self.close()
        else:
            with contextlib.suppress(Exception):
                sftp.close_handle(handle)

    def _discard(self, sftp: SFTPSession, handle: bytes | None, temp: str) -> None:
        """Close and remove a temp file after a failed upload, whatever state the
        session is in (one that got out of step is replaced, and ``rm`` used instead)."""
        if not sftp.broken:
            if handle is not None:
                with contextlib.suppress(Exception):
                    sftp.close_handle(handle)
            with contextlib.suppress(Exception):
                sftp.remove(temp)
                return
        if sftp.broken and self._sftp is sftp:
            self.close()
        self._remove_quietly(temp)

    def _write_error(self, sftp: SFTPSession, directory: str, exc: SFTPError) -> str:
        free = None
        with contextlib.suppress(Exception):
            free = sftp.free_bytes(directory)
        if free is not None and free < 1024 * 1024:
            return (
                f"no space left on the remote filesystem of {directory} ({free} bytes "
                "free); target left unchanged"
            )
        return f"remote write error: {exc.strerror}; target left unchanged"

    def _scp_send(self, source: _Source, remote_path: str) -> None:
        """Send the whole source with ``scp -t`` (mode 600). scp needs the size first:
        a source of unknown size is spooled to a local temp file."""
        sized: Any = source  # read through _Source, so local read errors stay told apart
        with open_sized_upload_source(sized) as (stream, size):
            scp_upload(self.connection, remote_path, stream, size, 0o600)

    def _put_scp(self, source: _Source, remote: str, directory: str) -> None:
        temp = posixpath.join(directory, f".pyinfra-upload.{secrets.token_hex(8)}")
        with self._writing(temp):
            self._put_scp_temp(source, remote, directory, temp)

    def _put_scp_temp(self, source: _Source, remote: str, directory: str, temp: str) -> None:
        try:
            self._scp_send(source, temp)
        except SCPError as exc:
            self._remove_quietly(temp)
            detail = str(exc)
            if "No space left" in detail:
                detail += f" (the remote filesystem of {directory} is full)"
            elif temp in detail and "No such file or directory" in detail:
                detail = f"directory {directory} does not exist"
            elif temp in detail and "Permission denied" in detail:
                detail = f"cannot create a file in {directory}: Permission denied (use _sudo?)"
            raise self._fail("upload to", remote, f"{detail}; target left unchanged") from None
        except BaseException:  # the local source failed half-way, the connection was lost...
            self._remove_quietly(temp)
            raise
        finish = StringCommand(
            "sh",
            "-c",
            QuoteString(script("finish-upload")),
            "pyinfra-upload",
            QuoteString(temp),
            QuoteString(remote),
        )
        ok, output = run_helper(self.connection, finish)
        if not ok:
            self._remove_quietly(temp)
            raise self._fail("upload to", remote, output.failure_line())

    def _remove_quietly(self, path: str) -> None:
        """Remove a temp file of ours with ``rm``; if that cannot be done now (the
        connection is gone), record it: the next connection removes it."""
        connection = self.connection
        if connection.active:
            command = StringCommand("rm", "-f", "--", QuoteString(path))
            try:
                ok, output = run_helper(connection, command, self._timeout, urgent=True)
            except ConnectError:
                ok = False
            else:
                if ok:
                    return
                if connection.active:
                    logger.warning("%s: could not remove temp file %s: %s",
                                   self.name, path, output.failure_line())  # fmt: skip
                    return
        if path not in connection.leftovers.litter:
            connection.leftovers.litter.append(path)

    def _stage_sftp(
        self, sftp: SFTPSession, source: _Source, temp: str, temp_dir: str, remote: str
    ) -> None:
        try:
            handle = sftp.open(
                temp, O_WRITE | O_CREAT | O_EXCL | O_TRUNC, Attributes(permissions=0o600)
            )
        except SFTPError as exc:
            raise self._fail(
                "upload to",
                remote,
                f"cannot create a private temp file in {temp_dir}: {exc.strerror}",
            ) from None
        except (paramiko.SSHException, EOFError) as exc:
            raise self._lost(exc) from None
        try:
            sftp.write_from(handle, source)  # type: ignore[arg-type]
        except SFTPError as exc:
            raise self._fail("upload to", remote, self._write_error(sftp, temp_dir, exc)) from None
        except (paramiko.SSHException, EOFError) as exc:
            raise self._lost(exc) from None
        finally:
            self._release(sftp, handle)

    # -- downloads -----------------------------------------------------------------------

    def _get_plain(self, remote: str, sink: Any) -> None:
        with self._lock:
            sftp = self._session()
            if sftp is None:
                try:
                    scp_download(self.connection, remote, sink)
                except SCPError as exc:
                    raise self._fail("download of", remote, str(exc)) from None
                except (paramiko.SSHException, EOFError) as exc:
                    raise self._lost(exc) from None
                return
            try:
                self._get_sftp(sftp, remote, sink)
            except (paramiko.SSHException, EOFError) as exc:
                raise self._lost(exc) from None
            except SFTPError as exc:
                raise self._fail("download of", remote, str(exc.strerror)) from None

    def _get_sftp(self, sftp: SFTPSession, remote: str, sink: Any) -> None:
        try:
            attrs = sftp.stat(remote)
            if attrs is None:
                raise SFTPError(NO_SUCH_FILE, "No such file")
            if attrs.is_dir:
                raise self._fail("download of", remote, "it is a directory")
            handle = sftp.open(remote, O_READ)
        except SFTPError as exc:
            detail = "no such file" if exc.code == NO_SUCH_FILE else str(exc.strerror)
            raise self._fail("download of", remote, detail) from None
        try:
            sftp.read_into(handle, attrs.size or 0, sink)
        except SFTPError as exc:
            raise self._fail("download of", remote, f"remote read error: {exc.strerror}") from None
        finally:
            self._release(sftp, handle)
