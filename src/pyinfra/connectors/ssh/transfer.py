"""File transfer for the SSH connector: sftp (default) or scp, atomic and private.

Uploads (no escalation): the data goes to ``DIR/.pyinfra-upload.<random>`` next to the
target, created with mode 600 (sftp: ``O_EXCL``), takes over the mode and owner of the
file it replaces (new files: ``0666 & ~umask``), and is then renamed over the target in
one step (``posix-rename@openssh.com``; scp: ``mv -f``): readers see the old or the new
file, never a partial one. On any failure the temp file is removed and the target is
untouched. (No fsync before the rename, like scp and rsync: it cost ~13% of upload
throughput on disk, and ext4/xfs flush the data of a file renamed over another.)

Uploads with ``_sudo``/``_su_user``/``_doas`` to root: the data goes to a private temp
file in ``_temp_dir`` (mode 600, 128-bit random name, owned by the login user); an
escalated script then copies it into a ``mktemp`` file in the target directory, takes
over mode/owner and moves it into place as root; the temp file is removed by that
script and again (as the login user) whatever happened. Escalation to another user
(who could not read the login user's private file) and escalated downloads stream
through the escalated command's stdin/stdout instead: nothing is staged at all.

Downloads (no escalation): prefetched sftp reads (or ``scp -f``) into a local temp file
that replaces the local target only once complete.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import secrets
import shutil
import tempfile
import threading
from typing import IO, TYPE_CHECKING, Any

import paramiko

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import TransferError
from pyinfra.connectors._runner.loop import run_process
from pyinfra.connectors._runner.transfer import DownloadTarget, open_upload_source
from pyinfra.connectors.ssh.connect import SSHConnection
from pyinfra.connectors.ssh.process import SSHProcess, open_session
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

if TYPE_CHECKING:
    from pyinfra.connectors.ssh.connector import SSHConnector

logger = logging.getLogger("pyinfra")

_ESCALATION_KEYS = ("_sudo", "_su_user", "_doas")

# $1 = private temp file (login user's), $2 = destination. Runs as root.
_INSTALL_SCRIPT = r"""src=$1 dest=$2
trap 'rm -f "$src"' EXIT INT TERM HUP
case "$dest" in */*) dir=${dest%/*}; dir=${dir:-/} ;; *) dir=. ;; esac
if [ ! -d "$dir" ]; then echo "pyinfra: directory $dir does not exist" >&2; exit 2; fi
if [ -d "$dest" ]; then echo "pyinfra: $dest is a directory" >&2; exit 2; fi
tmp=$(mktemp "$dir/.pyinfra-upload.XXXXXXXXXX") || exit 1
trap 'rm -f "$src" "$tmp"' EXIT INT TERM HUP
cat -- "$src" > "$tmp" || exit 1
if [ -e "$dest" ]; then
  chmod "$(stat -c %a "$dest")" "$tmp" || exit 1
  chown "$(stat -c %u:%g "$dest")" "$tmp" 2>/dev/null || true
else
  m=$(umask); chmod "$(printf '%o' $(( 0666 & ~0$m )))" "$tmp" || exit 1
fi
mv -f "$tmp" "$dest"
"""

# $1 = temp file (already next to the destination), $2 = destination. scp uploads.
_FINISH_SCRIPT = r"""tmp=$1 dest=$2
trap 'rm -f "$tmp"' EXIT INT TERM HUP
if [ -d "$dest" ]; then echo "pyinfra: $dest is a directory" >&2; exit 2; fi
if [ -e "$dest" ]; then
  chmod "$(stat -c %a "$dest")" "$tmp" || exit 1
  chown "$(stat -c %u:%g "$dest")" "$tmp" 2>/dev/null || true
else
  m=$(umask); chmod "$(printf '%o' $(( 0666 & ~0$m )))" "$tmp" || exit 1
fi
mv -f "$tmp" "$dest" && trap - EXIT INT TERM HUP
"""


class _SourceError(Exception):
    """Reading the local upload source failed."""


class _SinkError(Exception):
    """Writing the downloaded data locally failed."""


class _Source:
    """Wraps the upload source so that local read errors are told apart."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle

    def read(self, size: int = -1) -> bytes:
        try:
            return self.handle.read(size)
        except OSError as exc:
            raise _SourceError(str(exc.strerror or exc)) from exc


def _target_user(arguments: dict[str, Any]) -> str | None:
    """The user an escalated command ends up as (None: no escalation)."""
    if arguments.get("_su_user"):
        return str(arguments["_su_user"])
    if arguments.get("_sudo"):
        return str(arguments.get("_sudo_user") or "root")
    if arguments.get("_doas"):
        return str(arguments.get("_doas_user") or "root")
    return None


def _size_of(handle: IO[bytes]) -> int | None:
    try:
        position = handle.tell()
        size = handle.seek(0, os.SEEK_END) - position
        handle.seek(position)
        return int(size)
    except (OSError, ValueError, AttributeError):
        return None


class SSHFileTransfer:
    """put/get for one connection. One sftp session, opened on first use and reused;
    transfers on the same host are serialised on it."""

    def __init__(self, connector: SSHConnector, connection: SSHConnection) -> None:
        self.connector = connector
        self.connection = connection
        self.name = connector.host.name
        self.protocol = connection.settings.transfer_protocol
        self._lock = threading.Lock()
        self._sftp: SFTPSession | None = None
        self._umask: int | None = None

    def close(self) -> None:
        sftp, self._sftp = self._sftp, None
        if sftp is not None:
            with contextlib.suppress(Exception):
                sftp.close()

    @property
    def _timeout(self) -> float:
        return self.connection.settings.connect_timeout

    # -- public --------------------------------------------------------------------------

    def put(
        self,
        filename_or_io: str | IO[Any],
        remote_filename: str,
        arguments: dict[str, Any],
        print_output: bool = False,
        print_input: bool = False,
    ) -> bool:
        arguments = {k: v for k, v in arguments.items() if k not in ("_stdin", "_get_pty")}
        resolved = self.connector._resolve(arguments)
        user = _target_user(resolved)
        if user is not None and user != "root":
            return self.connector.stream_put_file(
                filename_or_io, remote_filename, arguments, print_output, print_input
            )
        with contextlib.ExitStack() as stack:
            try:
                handle = stack.enter_context(open_upload_source(filename_or_io))
            except OSError as exc:
                raise TransferError(
                    f"{self.name}: cannot read upload source {filename_or_io!r}: "
                    f"{exc.strerror or exc}"
                ) from None
            source = _Source(handle)
            try:
                if user is None:
                    self._put_plain(source, remote_filename)
                else:
                    temp_dir = str(resolved.get("_temp_dir") or "/tmp")
                    self._put_escalated(source, remote_filename, temp_dir, arguments)
            except _SourceError as exc:
                raise TransferError(
                    f"{self.name}: reading upload source {filename_or_io!r} failed: {exc} "
                    "(target left unchanged)"
                ) from None
            except SFTPError as exc:
                raise self._fail(
                    "upload to", remote_filename, f"{exc.strerror} (target left unchanged)"
                ) from None
        return True

    def get(
        self,
        remote_filename: str,
        filename_or_io: str | IO[Any],
        arguments: dict[str, Any],
        print_output: bool = False,
        print_input: bool = False,
    ) -> bool:
        arguments = {k: v for k, v in arguments.items() if k not in ("_stdin", "_get_pty")}
        resolved = self.connector._resolve(arguments)
        if _target_user(resolved) is not None:
            return self.connector.stream_get_file(
                remote_filename, filename_or_io, arguments, print_output, print_input
            )
        target = DownloadTarget(filename_or_io)
        write = target.write

        def sink(data: bytes) -> None:
            try:
                write(data)
            except OSError as exc:
                raise _SinkError(str(exc.strerror or exc)) from exc

        try:
            self._get_plain(remote_filename, sink)
            target.commit()
        except _SinkError as exc:
            target.abort()
            raise self._fail(
                "download of", remote_filename, f"writing to {filename_or_io!r} failed: {exc}"
            ) from None
        except BaseException:
            target.abort()
            raise
        return True

    # -- sftp session --------------------------------------------------------------------

    def _session(self) -> SFTPSession | None:
        """The sftp session, or None when this host uses scp (or has no sftp)."""
        if self.protocol != "sftp":
            return None
        if self._sftp is None:
            channel = open_session(
                self.connection.transport, self.name, self._timeout, CHANNEL_WINDOW
            )
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

    def _lost(self, exc: BaseException) -> TransferError:
        self.close()
        return TransferError(
            f"{self.name}: the SSH connection was lost during the transfer "
            f"({exc or type(exc).__name__})"
        )

    def _umask_value(self) -> int:
        if self._umask is None:
            process = SSHProcess(
                self.connection.transport, "umask", name=self.name, timeout=self._timeout
            )
            ok, output = run_process(process, timeout=self._timeout)
            try:
                self._umask = int(output.stdout.strip() or "022", 8) if ok else 0o022
            except ValueError:
                self._umask = 0o022
        return self._umask

    # -- uploads -------------------------------------------------------------------------

    def _fail(self, what: str, remote: str, detail: str) -> TransferError:
        return TransferError(f"{self.name}: {what} {remote} failed: {detail}")

    def _put_plain(self, source: _Source, remote: str) -> None:
        directory = posixpath.dirname(remote) or "."
        with self._lock:
            sftp = self._session()
            if sftp is None:
                self._put_scp(source, remote, directory)
                return
            try:
                self._put_sftp(sftp, source, remote, directory)
            except (paramiko.SSHException, EOFError) as exc:
                raise self._lost(exc) from None

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

    def _put_scp(self, source: _Source, remote: str, directory: str) -> None:
        spooled: IO[bytes] | None = None
        size = _size_of(source.handle)
        stream: Any = source
        if size is None:  # scp needs the size first: spool a stream to a local temp file
            spooled = tempfile.TemporaryFile()
            shutil.copyfileobj(source, spooled, 1 << 20)
            size = spooled.tell()
            spooled.seek(0)
            stream = spooled
        temp = posixpath.join(directory, f".pyinfra-upload.{secrets.token_hex(8)}")
        try:
            try:
                scp_upload(self.connection.transport, temp, stream, size, 0o600, self._timeout)
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
            except (paramiko.SSHException, EOFError) as exc:
                raise self._lost(exc) from None
            except BaseException:  # e.g. the local source failed half-way
                self._remove_quietly(temp)
                raise
            command = StringCommand(
                "sh",
                "-c",
                QuoteString(_FINISH_SCRIPT),
                "pyinfra-upload",
                QuoteString(temp),
                QuoteString(remote),
            )
            ok, output = self.connector.run_command(
                command, {"_sudo": False, "_su_user": None, "_doas": False}
            )
            if not ok:
                self._remove_quietly(temp)
                raise self._fail("upload to", remote, _last_line(output.stderr_lines, output))
        finally:
            if spooled is not None:
                spooled.close()

    def _remove_quietly(self, path: str) -> None:
        command = StringCommand("rm", "-f", "--", QuoteString(path))
        with contextlib.suppress(Exception):
            self.connector.run_command(command, {"_sudo": False, "_su_user": None, "_doas": False})

    def _put_escalated(
        self, source: _Source, remote: str, temp_dir: str, arguments: dict[str, Any]
    ) -> None:
        temp = posixpath.join(temp_dir, f"pyinfra-upload-{secrets.token_hex(16)}")
        try:
            with self._lock:
                sftp = self._session()
                if sftp is None:
                    size = _size_of(source.handle)
                    self._stage_scp(source, temp, size)
                else:
                    self._stage_sftp(sftp, source, temp, temp_dir, remote)
            command = StringCommand(
                "sh",
                "-c",
                QuoteString(_INSTALL_SCRIPT),
                "pyinfra-install",
                QuoteString(temp),
                QuoteString(remote),
            )
            ok, output = self.connector.run_command(command, arguments)
            if not ok:
                raise self._fail(
                    "upload to",
                    remote,
                    f"{_last_line(output.stderr_lines, output)} (target left unchanged)",
                )
        finally:
            self._remove_staged(temp)

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
            if sftp.broken:
                self.close()
            else:
                with contextlib.suppress(Exception):
                    sftp.close_handle(handle)

    def _stage_scp(self, source: _Source, temp: str, size: int | None) -> None:
        stream: Any = source
        spooled = None
        if size is None:
            spooled = tempfile.TemporaryFile()
            shutil.copyfileobj(source, spooled, 1 << 20)
            size = spooled.tell()
            spooled.seek(0)
            stream = spooled
        try:
            scp_upload(self.connection.transport, temp, stream, size, 0o600, self._timeout)
        except SCPError as exc:
            raise self._fail("upload to", temp, f"{exc} (target left unchanged)") from None
        finally:
            if spooled is not None:
                spooled.close()

    def _remove_staged(self, temp: str) -> None:
        """Remove the login user's temp file (the install script normally did)."""
        with self._lock:
            sftp = self._sftp
            if sftp is not None:
                with contextlib.suppress(Exception):
                    sftp.remove(temp)
                return
        self._remove_quietly(temp)

    # -- downloads -----------------------------------------------------------------------

    def _get_plain(self, remote: str, sink: Any) -> None:
        with self._lock:
            sftp = self._session()
            if sftp is None:
                try:
                    scp_download(self.connection.transport, remote, sink, self._timeout)
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
            if sftp.broken:
                self.close()
            else:
                with contextlib.suppress(Exception):
                    sftp.close_handle(handle)


def _last_line(lines: list[str], output: Any) -> str:
    useful = [line for line in lines if line.strip()]
    return useful[-1] if useful else f"exit status {output.exit_code}"
