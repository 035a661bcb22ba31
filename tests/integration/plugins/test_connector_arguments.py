"""Global arguments reach a connector resolved, and only for the commands they are for
(issue 9 item 2): a connector written the pyinfra 3.x way, whose ``run_shell_command``
builds with ``make_unix_command_for_host`` and whose own helper command in ``connect``
does too, run from the CLI with ``--sudo``: the deploy's command runs as the sudo user,
the helper as the user pyinfra runs as."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

CONNECTOR = '''
from pyinfra.api.command import StringCommand
from pyinfra.api.connectors import register_connector
from pyinfra.connectors.base import BaseConnector
from pyinfra.connectors.util import make_unix_command_for_host, run_local_process


class HelperConnector(BaseConnector):
    handles_execution = True

    @staticmethod
    def make_names_data(name=None):
        yield f"@helper/{name}", {"helper_log": name}, []

    def connect(self):
        # the connector's own helper command: never meant for --sudo
        helper = make_unix_command_for_host(self.state, self.host, StringCommand("id", "-un"))
        code, output = run_local_process(helper.get_raw_value())
        with open(self.host.data.helper_log, "w") as log:
            log.write(output.stdout + "\\n")

    def run_shell_command(self, command, print_output=False, print_input=False, **arguments):
        built = make_unix_command_for_host(self.state, self.host, command, **arguments)
        code, output = run_local_process(built.get_raw_value(), print_output=print_output,
                                         print_prefix=self.host.name)
        return code == 0, output

    def put_file(self, *args, **kwargs):
        raise NotImplementedError

    def get_file(self, *args, **kwargs):
        raise NotImplementedError


register_connector("helper", HelperConnector)
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="sudo to nobody needs root here")
def test_sudo_applies_to_the_deploy_not_to_the_connectors_helpers(tmp_path: Path) -> None:
    log = tmp_path / "helper.log"
    inventory = tmp_path / "inventory.py"
    inventory.write_text(CONNECTOR + f"\nhosts = ['@helper/{log}']\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run(
        [sys.executable, "-m", "pyinfra", str(inventory), "exec", "--sudo", "--sudo-user",
         "nobody", "--", "id", "-un"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nobody" in result.stdout  # the deploy's command: --sudo --sudo-user nobody
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert log.read_text().strip() == me  # the helper: as the user pyinfra runs as
