"""A connector, a fact and an operation written the way third-party packages for
pyinfra 3.x write them (pyinfra-lxd-connector, pyinfra-vyos...), used by the plugin
tests: ``@jail/NAME`` runs commands on this machine inside a directory of its own.

The connector wraps another connector: during ``connect`` it swaps itself out of
``host.connector`` while its helper commands run, builds every command with
``make_unix_command_for_host`` and hands it to the wrapped connector. Its helper
commands get no arguments, so they run as the connecting user even when the run has
``--sudo``; the deploy's commands get the operation's arguments (sudo included).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pyinfra import host
from pyinfra.api import FactBase, QuoteString, StringCommand, operation
from pyinfra.api.exceptions import ConnectError
from pyinfra.connectors.base import BaseConnector, DataMeta
from pyinfra.connectors.local import LocalConnector
from pyinfra.connectors.util import extract_control_arguments, make_unix_command_for_host


class JailConnector(BaseConnector):
    handles_execution = True
    data_meta = {"jail_dir": DataMeta("Directory the jail lives in")}

    def __init__(self, state: Any, host: Any) -> None:
        super().__init__(state, host)
        self.local = LocalConnector(state, host)

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        yield f"@jail/{name}", {"jail_dir": f"/tmp/pyi-jail-{name}"}, ["@jail"]

    def connect(self) -> None:
        self.local.connect()
        directory = self.host.data.jail_dir
        try:
            self.host.connector = self.local
            helper = make_unix_command_for_host(
                self.state,
                self.host,
                StringCommand(
                    "mkdir",
                    "-p",
                    QuoteString(directory),
                    "&&",
                    "chmod",
                    "1777",
                    QuoteString(directory),
                    "&&",
                    "id",
                    "-un",
                    ">",
                    QuoteString(f"{directory}/.connected-as"),
                ),  # fmt: skip
            )
            status, output = self.local.run_shell_command(helper)
        finally:
            self.host.connector = self
        if not status:
            raise ConnectError(f"cannot prepare jail {directory}: {output.stderr}")

    def disconnect(self) -> None:
        self.local.disconnect()

    def run_shell_command(
        self, command: Any, print_output: bool = False, print_input: bool = False, **arguments: Any
    ) -> Any:
        control = extract_control_arguments(arguments)
        arguments["_chdir"] = arguments.get("_chdir") or self.host.data.jail_dir
        wrapped = make_unix_command_for_host(self.state, self.host, command, **arguments)
        return self.local.run_shell_command(
            wrapped, print_output=print_output, print_input=print_input, **control
        )

    def put_file(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self.local.put_file(*args, **kwargs))

    def get_file(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self.local.get_file(*args, **kwargs))


class JailFiles(FactBase[list[str]]):
    """The names in a jail directory (``[]`` when ``ls`` is missing or it is empty)."""

    @staticmethod
    def default() -> list[str]:
        return []

    def requires_command(self, directory: str) -> str:
        return "ls"

    def command(self, directory: str) -> StringCommand:
        return StringCommand("ls", "-1", QuoteString(directory))

    def process(self, output: list[str]) -> list[str]:
        return [line for line in output if line]


@operation()
def marker(filename: str) -> Any:
    """Create the file ``filename`` in the jail unless it is there."""
    directory = host.data.jail_dir
    if filename in host.get_fact(JailFiles, directory=directory):
        host.noop(f"marker {filename} already there")
        return
    yield StringCommand("touch", QuoteString(f"{directory}/{filename}"))
