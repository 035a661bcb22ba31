"""The ``@local`` connector: run commands and copy files on this machine."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from typing_extensions import Unpack

from pyinfra.api.arguments import ConnectorArguments
from pyinfra.api.exceptions import InventoryError, TransferError
from pyinfra.connectors.execloop import Process
from pyinfra.connectors.execution import ExecutionConnector
from pyinfra.connectors.localprocess import LocalProcess
from pyinfra.connectors.transfer import DownloadTarget, open_upload_source

_ESCALATION_KEYS = ("_sudo", "_su_user", "_doas")


class LocalConnector(ExecutionConnector):
    """Runs commands through ``sh -c`` in a local subprocess (its own process group).

    ``put_file``/``get_file`` copy through a private temp file in the target directory
    and an atomic rename; with ``_sudo``/``_su_user`` they stream through the shell.
    """

    handles_execution = True

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        if name:
            raise InventoryError(f"@local takes no argument (got @local/{name}): use plain @local")
        yield "@local", {}, []

    def start_process(self, command: str, get_pty: bool) -> Process:
        return LocalProcess(["sh", "-c", command], get_pty=get_pty)

    def _escalated(self, arguments: dict[str, Any]) -> bool:
        resolved = self._resolve(arguments)
        return any(resolved.get(k) for k in _ESCALATION_KEYS) or bool(resolved.get("_chdir"))

    def put_file(
        self,
        filename_or_io: str | IO[Any],
        remote_filename: str,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        if self._escalated(dict(arguments)):
            return super().put_file(
                filename_or_io,
                remote_filename,
                remote_temp_filename,
                print_output,
                print_input,
                **arguments,
            )
        dest = os.path.abspath(remote_filename)
        directory = os.path.dirname(dest)
        if not os.path.isdir(directory):
            raise TransferError(
                f"{self.host.name}: upload to {remote_filename} failed: "
                f"directory {directory} does not exist"
            )
        if os.path.isdir(dest):
            raise TransferError(
                f"{self.host.name}: upload to {remote_filename} failed: it is a directory"
            )
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pyinfra-upload.")
            with os.fdopen(fd, "wb") as out, open_upload_source(filename_or_io) as source:
                shutil.copyfileobj(source, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            if os.path.exists(dest):
                st = os.stat(dest)
                os.chmod(tmp, st.st_mode & 0o7777)
                with contextlib.suppress(PermissionError):
                    os.chown(tmp, st.st_uid, st.st_gid)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, dest)
            tmp = None
        except OSError as exc:
            raise TransferError(
                f"{self.host.name}: upload to {remote_filename} failed: "
                f"{exc.strerror or exc} (target left unchanged)"
            ) from exc
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        return True

    def get_file(
        self,
        remote_filename: str,
        filename_or_io: str | IO[Any],
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        if self._escalated(dict(arguments)):
            return super().get_file(
                remote_filename,
                filename_or_io,
                remote_temp_filename,
                print_output,
                print_input,
                **arguments,
            )
        try:
            source = open(remote_filename, "rb")
        except OSError as exc:
            raise TransferError(
                f"{self.host.name}: download of {remote_filename} failed: {exc.strerror or exc}"
            ) from exc
        with source, DownloadTarget(filename_or_io) as write:
            while chunk := source.read(1 << 20):
                write(chunk)
        return True
