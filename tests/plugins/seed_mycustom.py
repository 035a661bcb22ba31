"""The seed's ``MyCustomConnector`` example, as written in the connector guide.

(Only reformatted; the imports and the ``Tuple`` spelling are the seed's.)
"""

# ruff: noqa: UP006, UP035

from typing import Iterator, Tuple

from pyinfra.api import StringCommand
from pyinfra.connectors.base import BaseConnector
from pyinfra.connectors.util import CommandOutput


class MyCustomConnector(BaseConnector):
    handles_execution = True

    @staticmethod
    def make_names_data(name: str) -> Iterator[Tuple[str, dict, list[str]]]:
        """
        Generate host entries from connector string.
        """
        # Parse name and yield (host_name, host_data, groups)
        yield f"@mycustom/{name}", {"custom_param": name}, []

    def connect(self) -> None:
        """
        Establish connection.
        """
        print(f"Connecting to {self.host.name}...")
        # Connection logic here
        self.host.connected = True

    def disconnect(self) -> None:
        """
        Close connection.
        """
        print(f"Disconnecting from {self.host.name}...")
        # Cleanup logic here
        self.host.connected = False

    def run_shell_command(
        self,
        command: StringCommand,
        print_output: bool,
        print_input: bool,
        **arguments,
    ) -> Tuple[bool, CommandOutput]:
        """
        Execute command.
        """
        if print_input:
            print(f"$ {command}")

        # Execute command using your protocol
        stdout_lines = []
        stderr_lines = []
        status = True

        # ... execution logic ...

        output = CommandOutput(
            stdout_lines=[line for line in stdout_lines],
            stderr_lines=[line for line in stderr_lines],
        )

        return status, output

    def put_file(
        self,
        filename_or_io,
        remote_filename,
        remote_temp_filename=None,
        print_output=False,
        print_input=False,
        **arguments,
    ) -> bool:
        """
        Upload file.
        """
        # Upload logic here
        return True

    def get_file(
        self,
        remote_filename,
        filename_or_io,
        remote_temp_filename=None,
        print_output=False,
        print_input=False,
        **arguments,
    ) -> bool:
        """
        Download file.
        """
        # Download logic here
        return True
