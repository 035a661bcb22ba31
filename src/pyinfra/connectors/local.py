"""The ``@local`` connector: run commands and copy files on this machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO, Any

from typing_extensions import Unpack

from pyinfra.api.arguments import ConnectorArguments
from pyinfra.api.exceptions import InventoryError, TransferError
from pyinfra.connectors.execloop import Process
from pyinfra.connectors.execution import ExecutionConnector
from pyinfra.connectors.localprocess import LocalProcess
from pyinfra.connectors.transfer import DownloadTarget, replace_local_file

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
        where = f"{self.host.name}: upload to {remote_filename} failed"
        if not os.path.isdir(os.path.dirname(dest)):
            raise TransferError(f"{where}: directory {os.path.dirname(dest)} does not exist")
        replace_local_file(dest, filename_or_io, where)
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
