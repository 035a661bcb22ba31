"""Base class of connectors that only generate inventory (their hosts run over SSH)."""

from __future__ import annotations

from typing import IO, Any

from typing_extensions import Unpack

from pyinfra.api.arguments import ConnectorArguments
from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import ConnectError
from pyinfra.connectors.base import BaseConnector
from pyinfra.connectors.output import CommandOutput


class InventoryOnlyConnector(BaseConnector):
    """``handles_execution = False``: the inventory gives this connector's hosts to
    ``@ssh``, so an instance is never used to execute. Subclasses implement only
    ``make_names_data``; the execution methods refuse, naming the connector."""

    handles_execution = False

    def _refuse(self) -> ConnectError:
        return ConnectError(
            f"{self.host.name}: {type(self).__name__} only generates inventory; "
            "its hosts are reached over @ssh"
        )

    def connect(self) -> None:
        raise self._refuse()

    def run_shell_command(
        self,
        command: StringCommand,
        print_output: bool,
        print_input: bool,
        **arguments: Unpack[ConnectorArguments],
    ) -> tuple[bool, CommandOutput]:
        raise self._refuse()

    def put_file(
        self,
        filename_or_io: str | IO[Any],
        remote_filename: str,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        raise self._refuse()

    def get_file(
        self,
        remote_filename: str,
        filename_or_io: str | IO[Any],
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        raise self._refuse()


__all__ = ["InventoryOnlyConnector"]
