"""Custom connectors through the CLI: plugin packages installed into a real virtualenv
(entry points in group ``pyinfra.connectors``) and an inventory.py that registers one.

The virtualenv sees this interpreter's packages (pyinfra and its dependencies) through a
``.pth`` file, so nothing is downloaded: the plugin wheels are built by the test
(tests/helpers/wheels.py) and installed with ``pip install --no-index``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers.wheels import build_wheel, child_venv, pip_install

ROOT = Path(__file__).resolve().parents[3]

DEMO_MODULE = '''
"""A connector plugin: runs commands locally, with DEMO_TARGET set to the target."""

from pyinfra.api.exceptions import InventoryError
from pyinfra.connectors.base import DataMeta
from pyinfra.connectors.local import LocalConnector
from pyinfra.connectors.execution import LocalProcess


class DemoConnector(LocalConnector):
    handles_execution = True
    data_meta = {"demo_target": DataMeta("Target after @demo/")}

    @staticmethod
    def make_names_data(name=None):
        if not name:
            raise InventoryError("@demo needs a target: @demo/NAME")
        yield f"@demo/{name}", {"demo_target": name}, ["demo"]

    def start_process(self, command, get_pty):
        argv = ["env", f"DEMO_TARGET={self.data['demo_target']}", "sh", "-c", command]
        return LocalProcess(argv, get_pty=get_pty)


class BoomConnector(LocalConnector):
    handles_execution = True

    @staticmethod
    def make_names_data(name=None):
        if name == "names":
            raise ValueError("inventory backend said no")
        yield f"@demoboom/{name}", {}, []

    def connect(self):
        raise RuntimeError("cannot reach the demo backend")
'''


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("plugins")
    python = child_venv(base / "venv")
    demo = build_wheel(
        base / "dist",
        "pyinfra-plugin-demo",
        "1.0",
        {"pyinfra_plugin_demo.py": DEMO_MODULE},
        {
            "pyinfra.connectors": {
                "demo": "pyinfra_plugin_demo:DemoConnector",
                "demoboom": "pyinfra_plugin_demo:BoomConnector",
            }
        },
    )
    broken = build_wheel(
        base / "dist",
        "pyinfra-plugin-broken",
        "0.1",
        {"pyinfra_plugin_broken.py": "import pyinfra_missing_dependency  # noqa\n"},
        {"pyinfra.connectors": {"broken": "pyinfra_plugin_broken:BrokenConnector"}},
    )
    for package in (demo, broken):
        pip_install(python, package)
    return python


def pyinfra_cli(
    python: Path, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(python), "-m", "pyinfra_cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_plugin_is_not_importable_outside_the_venv() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import pyinfra_plugin_demo"], capture_output=True, text=True
    )
    assert result.returncode != 0


def test_entry_point_connector_runs_from_the_cli(venv_python: Path, tmp_path: Path) -> None:
    result = pyinfra_cli(
        venv_python, "@demo/alpha", "exec", "--", "echo target=$DEMO_TARGET", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "[@demo/alpha] target=alpha" in result.stdout


def test_entry_point_connector_through_the_api(venv_python: Path) -> None:
    code = textwrap.dedent(
        """
        from pyinfra.api import Config, Inventory, State
        inventory = Inventory((["@demo/beta"], {}))
        state = State(inventory, Config())
        host = inventory.get_host("@demo/beta")
        ok, output = host.run_shell_command("echo $DEMO_TARGET")
        print(type(host.connector).__name__, host.groups, ok, output.stdout)
        """
    )
    result = subprocess.run([str(venv_python), "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "DemoConnector ['demo'] True beta"


def test_entry_point_that_fails_to_import_names_the_package(venv_python: Path) -> None:
    result = pyinfra_cli(venv_python, "@broken/x", "exec", "--", "true")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "connector @broken from package pyinfra-plugin-broken failed to import" in result.stderr
    assert "pyinfra_missing_dependency" in result.stderr


def test_broken_plugin_does_not_break_other_connectors(venv_python: Path) -> None:
    result = pyinfra_cli(venv_python, "@demo/gamma", "exec", "--", "echo ok")
    assert result.returncode == 0, result.stderr


def test_plugin_raising_in_make_names_data_is_named(venv_python: Path) -> None:
    result = pyinfra_cli(venv_python, "@demoboom/names", "exec", "--", "true")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "connector @demoboom (pyinfra_plugin_demo.BoomConnector) raised ValueError" in (
        result.stderr
    )
    assert "inventory backend said no" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugin_raising_in_connect_is_named(venv_python: Path) -> None:
    result = pyinfra_cli(venv_python, "@demoboom/x", "exec", "--", "true")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "@demoboom/x: connector @demoboom (pyinfra_plugin_demo.BoomConnector) raised "
        "RuntimeError in connect: cannot reach the demo backend"
    ) in result.stderr


def test_inventory_file_registering_the_seed_connector(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        textwrap.dedent(
            """
            from pyinfra.api.connectors import register_connector
            from tests.plugins.seed_mycustom import MyCustomConnector

            register_connector("mycustom", MyCustomConnector)

            targets = ["@mycustom/target"]
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "pyinfra_cli", str(inventory), "exec", "--", "echo", "hi"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Connecting to @mycustom/target..." in result.stdout
    assert "Disconnecting from @mycustom/target..." in result.stdout
    assert "@mycustom/target" in result.stdout and "Success" in result.stdout
