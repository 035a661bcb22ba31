"""@vagrant against real vagrant (docker provider, local sshd image): inventory, errors,
and a deploy over SSH to the machines vagrant reports."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyinfra.api import Inventory
from pyinfra.api.exceptions import InventoryError
from pyinfra.connectors.vagrant import VagrantInventoryConnector
from tests.helpers.vagrant import VagrantProject, ensure_vagrant_prerequisites

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VagrantProject]:
    ensure_vagrant_prerequisites()
    base = tmp_path_factory.mktemp("vagrant")
    project = VagrantProject(base / "project", base / "home", ["web1", "web2"], idle=["idle"])
    project.up()
    saved = {k: os.environ.get(k) for k in ("VAGRANT_HOME", "VAGRANT_CHECKPOINT_DISABLE")}
    os.environ["VAGRANT_HOME"] = str(project.home)
    os.environ["VAGRANT_CHECKPOINT_DISABLE"] = "1"
    try:
        yield project
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        project.destroy()


@pytest.fixture(autouse=True)
def _no_vagrant_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAGRANT_CWD", raising=False)


@pytest.fixture
def extra_file(project: VagrantProject) -> Iterator[Path]:
    path = project.directory / "@vagrant.json"
    yield path
    path.unlink(missing_ok=True)


def names_data(
    project: VagrantProject, name: str | None = None
) -> list[tuple[str, dict[str, object], list[str]]]:
    data = {"vagrant_dir": str(project.directory)}
    return list(VagrantInventoryConnector.make_names_data(name, data=data))


def test_running_machines_with_ssh_settings(
    project: VagrantProject, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pyinfra"):
        entries = names_data(project)
    assert [name for name, _, _ in entries] == ["@vagrant/web1", "@vagrant/web2"]
    ports = set()
    for _, data, groups in entries:
        assert groups == []
        assert data["ssh_hostname"] == "127.0.0.1"
        assert data["ssh_user"] == "root"
        assert data["ssh_key"] == str(project.key)
        assert data["ssh_strict_host_key_checking"] == "no"
        assert data["ssh_known_hosts_file"] == "/dev/null"
        assert isinstance(data["ssh_port"], int)
        ports.add(data["ssh_port"])
    assert len(ports) == 2
    # the machine that is not running is reported, not silently dropped
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("idle (not_created)" in w and "not running" in w for w in warnings), warnings


def test_one_machine_and_a_comma_list(project: VagrantProject) -> None:
    assert [n for n, _, _ in names_data(project, "web2")] == ["@vagrant/web2"]
    assert [n for n, _, _ in names_data(project, "web2,web1")] == [
        "@vagrant/web2",
        "@vagrant/web1",
    ]


def test_project_directory_from_vagrant_cwd(
    project: VagrantProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAGRANT_CWD", str(project.directory))
    assert len(list(VagrantInventoryConnector.make_names_data("web1"))) == 1


def test_groups_and_data_from_vagrant_json(project: VagrantProject, extra_file: Path) -> None:
    extra_file.write_text(
        json.dumps(
            {
                "groups": {"web1": ["web", "frontend"], "idle": ["never"]},
                "data": {"web1": {"app_port": 8080}, "web2": {"ssh_user": "deploy"}},
            }
        )
    )
    entries = {name: (data, groups) for name, data, groups in names_data(project)}
    assert entries["@vagrant/web1"][1] == ["web", "frontend"]
    assert entries["@vagrant/web1"][0]["app_port"] == 8080
    assert entries["@vagrant/web2"][1] == []
    assert entries["@vagrant/web2"][0]["ssh_user"] == "deploy"  # @vagrant.json wins


def test_inventory_hosts_run_over_ssh(project: VagrantProject) -> None:
    inventory = Inventory((["@vagrant/web1,web2"], {"vagrant_dir": str(project.directory)}))
    assert [h.name for h in inventory] == ["@vagrant/web1", "@vagrant/web2"]
    assert {h.connector_cls.__name__ for h in inventory} == {"SSHConnector"}


def test_cli_debug_inventory_reports_machines_not_running(project: VagrantProject) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pyinfra_cli", "@vagrant", "debug-inventory", "--json"],
        cwd=project.directory,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert sorted(entry["name"] for entry in listed) == ["@vagrant/web1", "@vagrant/web2"]
    assert "not running" in result.stderr and "idle (not_created)" in result.stderr


def test_deploy_over_ssh_to_vagrant_machines(project: VagrantProject, tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent(
            """
            from pyinfra.context import host
            from pyinfra.operations import server

            server.shell(
                name="mark the machine",
                commands=[f"echo deployed-to-{host.name.split('/')[-1]} > /root/pyinfra-marker"],
            )
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pyinfra_cli", "@vagrant/web1,web2", str(deploy), "-y"],
        cwd=project.directory,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for machine in ("web1", "web2"):
        marker = project.docker_exec(machine, "cat", "/root/pyinfra-marker")
        assert marker.strip() == f"deployed-to-{machine}"


# -- bad input: one line each ------------------------------------------------------------


def one_line_error(name: str | None, vagrant_dir: Path | str) -> str:
    with pytest.raises(InventoryError) as info:
        list(
            VagrantInventoryConnector.make_names_data(name, data={"vagrant_dir": str(vagrant_dir)})
        )
    message = str(info.value)
    assert "\n" not in message
    return message


def test_vagrant_not_installed(
    project: VagrantProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    message = one_line_error(None, project.directory)
    assert "vagrant is not installed" in message


def test_no_vagrantfile(project: VagrantProject, tmp_path: Path) -> None:
    message = one_line_error(None, tmp_path)
    assert f"no Vagrantfile in {tmp_path} or its parents" in message


def test_unknown_machine_lists_the_known_ones(project: VagrantProject) -> None:
    message = one_line_error("web1,db9", project.directory)
    assert "no vagrant machine named db9" in message
    assert "web1, web2, idle" in message


def test_named_machine_not_running(project: VagrantProject) -> None:
    message = one_line_error("idle", project.directory)
    assert "vagrant machine idle (not_created) is not running" in message
    assert "vagrant up idle" in message


def test_bad_vagrant_json(project: VagrantProject, extra_file: Path) -> None:
    extra_file.write_text('{"groups": {"web1": "web"}}')
    message = one_line_error("web1", project.directory)
    assert '"groups" must map machine names to lists of group names' in message
    extra_file.write_text("{not json")
    assert "is not valid JSON" in one_line_error("web1", project.directory)
