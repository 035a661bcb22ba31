"""The ``@local`` connector: run commands and copy files on this machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO, Any

from pyinfra.api.arguments import ResolvedArguments
from pyinfra.api.exceptions import InventoryError, TransferError
from pyinfra.connectors._runner.local import LocalProcess
from pyinfra.connectors._runner.process import Process
from pyinfra.connectors._runner.request import ProcessRequest
from pyinfra.connectors._runner.transfer import DownloadTarget, replace_local_file
from pyinfra.connectors.execution import ExecutionConnector
from pyinfra.connectors.rsync import RsyncMixin


class LocalConnector(RsyncMixin, ExecutionConnector):
    """Runs commands through ``sh -c`` in a local subprocess (its own process group).

    ``put_file``/``get_file`` copy through a private temp file in the target directory
    and an atomic rename; with ``_sudo``/``_su_user`` they stream through the shell.
    """

    rsync_kind = "local"  # files.rsync (pyinfra.connectors.rsync)

    handles_execution = True

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        if name:
            raise InventoryError(f"@local takes no argument (got @local/{name}): use plain @local")
        yield "@local", {}, []

    def start_process(self, request: ProcessRequest) -> Process:
        return LocalProcess(["sh", "-c", request.raw], get_pty=request.pty)

    @staticmethod
    def _copies_natively(arguments: ResolvedArguments) -> bool:
        """Files are copied by this process unless another user or directory is asked."""
        return not arguments.escalates and not arguments["_chdir"]

    def native_put_file(
        self, filename_or_io: str | IO[Any], remote_filename: str, arguments: ResolvedArguments
    ) -> bool:
        if not self._copies_natively(arguments):
            return False
        where = f"{self.host.name}: upload to {remote_filename} failed"
        replace_local_file(os.path.abspath(remote_filename), filename_or_io, where)
        return True

    def native_get_file(
        self, remote_filename: str, filename_or_io: str | IO[Any], arguments: ResolvedArguments
    ) -> bool:
        if not self._copies_natively(arguments):
            return False
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
