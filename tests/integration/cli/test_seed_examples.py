"""Every example of seed-connectors.txt that needs only @local or a custom connector,
run as written (with paths under a temp directory instead of /local/... and /remote/...)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run_script(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "example.py"
    script.write_text(textwrap.dedent(code))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )


def test_local_inventory_and_execution_example(tmp_path: Path) -> None:
    result = run_script(
        """
        from pyinfra.api import Inventory, State, Config
        from pyinfra.api import StringCommand

        inventory = Inventory(
            (["@local"], {}),
        )
        config = Config()
        state = State()
        state.init(inventory, config)
        host = inventory.get_host("@local")
        host.connect(reason="for deployment", raise_exceptions=True)

        command = StringCommand("apt-get", "update")
        success, output = host.connector.run_shell_command(
            command,
            print_output=True,
            print_input=True,
            _sudo=True,
            _timeout=120,
        )
        if success:
            print(f"stdout: {output.stdout_lines}")
        else:
            print(f"stderr: {output.stderr_lines}")
        assert success, output.stderr
        assert any("Reading package lists" in l or "Hit" in l or "Get" in l
                   for l in output.stdout_lines), output.stdout_lines
        print("OK")
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "stdout:" in result.stdout and "OK" in result.stdout


def test_file_transfer_examples(tmp_path: Path) -> None:
    (tmp_path / "local").mkdir()
    (tmp_path / "remote").mkdir()
    (tmp_path / "local" / "file.txt").write_text("local file\n")
    (tmp_path / "remote" / "config.json").write_text('{"a": 1}\n')
    result = run_script(
        f'''
        from pyinfra.api import Inventory, State, Config
        inventory = Inventory((["@local"], {{}}))
        state = State()
        state.init(inventory, Config())
        host = inventory.get_host("@local")
        host.connect()

        # Put file
        success = host.connector.put_file(
            filename_or_io="{tmp_path}/local/file.txt",
            remote_filename="{tmp_path}/remote/file.txt",
            print_output=True,
            _sudo=True,
        )
        assert success is True

        # Upload IO object
        from io import StringIO
        file_io = StringIO("Hello, World!")
        success = host.connector.put_file(
            filename_or_io=file_io,
            remote_filename="{tmp_path}/hello.txt",
        )
        assert success is True

        # Get file
        success = host.connector.get_file(
            remote_filename="{tmp_path}/remote/config.json",
            filename_or_io="{tmp_path}/local/config.json",
            print_output=True,
        )
        assert success is True

        # Download to IO object
        from io import BytesIO
        file_io = BytesIO()
        success = host.connector.get_file(
            remote_filename="/etc/hosts",
            filename_or_io=file_io,
        )
        if success:
            content = file_io.getvalue()
        assert content == open("/etc/hosts", "rb").read()
        print("OK")
    ''',
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "remote" / "file.txt").read_text() == "local file\n"
    assert (tmp_path / "hello.txt").read_text() == "Hello, World!"
    assert (tmp_path / "local" / "config.json").read_text() == '{"a": 1}\n'


def test_connection_management_examples(tmp_path: Path) -> None:
    result = run_script(
        """
        import time
        from pyinfra.api import Inventory, State, Config
        from pyinfra.api.exceptions import ConnectError

        inventory = Inventory((["@local"], {}))
        config = Config()
        state = State()
        state.init(inventory, config)

        for host in inventory:
            # Connect explicitly
            try:
                host.connect(reason="for deployment", raise_exceptions=True)
                print(f"Connected to {host.name}")
            except ConnectError as e:
                print(f"Failed to connect: {e}")

        for host in inventory:
            if host.connected:
                print("Host is connected")
            else:
                print("Host is not connected")

        for host in inventory:
            retries = 3
            for attempt in range(retries):
                try:
                    host.connect(raise_exceptions=True)
                    break
                except ConnectError:
                    if attempt < retries - 1:
                        time.sleep(5)
                        continue
                    raise

        for host in inventory:
            if host.connected:
                host.disconnect()
                print(f"Disconnected from {host.name}")
        assert not host.connected
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Connected to @local",
        "Host is connected",
        "Disconnected from @local",
    ]


def test_command_output_and_helpers_examples(tmp_path: Path) -> None:
    result = run_script(
        """
        from pyinfra.api import Inventory, State, Config, StringCommand
        from pyinfra.connectors.util import CommandOutput, OutputLine
        from pyinfra.connectors.util import (
            make_unix_command_for_host,
            execute_command_with_sudo_retry,
        )

        output = CommandOutput([
            OutputLine("stdout", "Line 1"),
            OutputLine("stderr", "Error message"),
            OutputLine("stdout", "Line 2"),
        ])
        stdout_lines = output.stdout_lines  # ["Line 1", "Line 2"]
        stderr_lines = output.stderr_lines  # ["Error message"]
        assert stdout_lines == ["Line 1", "Line 2"]
        assert stderr_lines == ["Error message"]

        inventory = Inventory((["@local"], {}))
        state = State(inventory, Config())
        host = inventory.get_host("@local")
        command = StringCommand("echo", "$PATH")
        full_command = make_unix_command_for_host(
            state,
            host,
            command,
            _sudo = True,
            _sudo_user = "root",
            _env = {"PATH": "/usr/local/bin"},
        )
        print(full_command)
        ok, out = host.run_shell_command(full_command, _shell_executable=None)
        assert ok, out.stderr
        assert out.stdout == "/usr/local/bin", out.stdout

        calls = []
        def execute(arguments):
            calls.append(dict(arguments))
            return host.run_shell_command("id -un", **arguments)
        ok, out = execute_command_with_sudo_retry(host, {"_sudo": True}, execute)
        assert ok and out.stdout == "root" and len(calls) == 1
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "sudo -H -n -u root sh -c" in result.stdout


# The seed's MyCustomConnector example (kept once, in tests/plugins/seed_mycustom.py),
# followed by the seed's registration and inventory lines as written.
CUSTOM_CONNECTOR = (ROOT / "tests" / "plugins" / "seed_mycustom.py").read_text() + """
from pyinfra.api.connectors import register_connector

register_connector("mycustom", MyCustomConnector)

# Now you can use it
from pyinfra.api import Inventory
inventory = Inventory(
    (["@mycustom/target"], {}),
)
"""


def test_custom_connector_example_as_written(tmp_path: Path) -> None:
    code = CUSTOM_CONNECTOR + textwrap.dedent("""
        from pyinfra.api import State, Config
        state = State(inventory, Config())
        host = inventory.get_host("@mycustom/target")
        assert host.data.custom_param == "target"
        host.connect()
        ok, out = host.run_shell_command("uptime", print_input=True)
        assert ok and out.stdout_lines == []
        assert host.put_file("/etc/hosts", "/tmp/x") is True
        host.disconnect()
        print("DONE")
    """)
    result = run_script(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Connecting to @mycustom/target...",
        "$ uptime",
        "Disconnecting from @mycustom/target...",
        "DONE",
    ]


def test_timeout_operation_example_in_a_deploy(tmp_path: Path) -> None:
    slow = tmp_path / "slow-script.sh"
    slow.write_text("#!/bin/sh\nsleep 0.2\necho slow done\n")
    slow.chmod(0o755)
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent("""
        from pyinfra.operations import server
        server.shell(
            name = "Long running command" ,
            commands = [ "./slow-script.sh" ],
            _timeout = 300 , # 5 minutes
            _chdir = "TMP",
        )
    """).replace("TMP", str(tmp_path))
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run(
        [sys.executable, "-m", "pyinfra", "@local", str(deploy), "-v", "-y"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "slow done" in result.stdout


@pytest.mark.parametrize("bad", ["@nope/x"])
def test_unknown_connector_cli(bad: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run(
        [sys.executable, "-m", "pyinfra", bad, "exec", "--", "true"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    assert "@local" in result.stderr and "Traceback" not in result.stderr
