"""A connector, fact and operation written as third-party packages for pyinfra 3.x write
them (tests/plugins/jail.py), run from the CLI with ``--sudo``: the connector's own
helper commands run without sudo, the deploy's commands with it, the fact's
``requires_command`` method gets the fact's arguments, ``host.noop`` shows in the output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_jail_connector_from_the_cli_with_sudo(tmp_path: Path) -> None:
    if os.getuid() != 0 or shutil.which("sudo") is None:
        pytest.skip("needs root and sudo (to run the deploy as another user with --sudo-user)")
    name = uuid.uuid4().hex[:8]
    jail = Path(f"/tmp/pyi-jail-{name}")
    (tmp_path / "inventory.py").write_text(
        "from pyinfra.api.connectors import register_connector\n"
        "from tests.plugins.jail import JailConnector\n"
        "register_connector('jail', JailConnector)\n"
        f"jails = ['@jail/{name}']\n"
    )
    (tmp_path / "deploy.py").write_text(
        "from pyinfra.operations import server\n"
        "from tests.plugins.jail import marker\n"
        "marker(filename='m1')\n"
        "server.shell(commands=['id -un > who'])\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'src'}", COLUMNS="200")
    command = [sys.executable, "-m", "pyinfra", "-y", "inventory.py", "deploy.py",
               "--sudo", "--sudo-user", "nobody"]  # fmt: skip
    try:
        first = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
        assert first.returncode == 0, first.stdout + first.stderr
        assert (jail / ".connected-as").read_text().strip() == "root"  # helper: no sudo
        assert (jail / "who").read_text().strip() == "nobody"  # the deploy: --sudo-user
        assert (jail / "m1").owner() == "nobody"
        second = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "marker m1 already there" in second.stdout
    finally:
        shutil.rmtree(jail, ignore_errors=True)
