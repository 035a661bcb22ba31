"""@terraform against the real terraform binary and a real (offline) applied state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyinfra.api import Inventory
from pyinfra.api.exceptions import InventoryError
from pyinfra.connectors.terraform import TerraformInventoryConnector, terraform_env
from tests.helpers.terraform import apply_config, terraform_binary

CONFIG = """
resource "terraform_data" "web" {
  input = ["web1.example.test", "web2.example.test"]
}

output "pyinfra_inventory" {
  value = terraform_data.web.output
}

output "objects" {
  value = [
    { name = "app1", ssh_hostname = "10.0.0.5", ssh_port = 2222, groups = ["app", "eu"],
      role = "primary" },
    { ssh_hostname = "10.0.0.6", groups = "app" },
    { name = "app3" },
  ]
}

output "by_group" {
  value = {
    web = ["w1", "w2"]
    db  = [{ name = "d1", ssh_user = "postgres" }]
  }
}

output "nested" {
  value = { cluster = { web = ["n1", "n2"], size = 2 } }
}

output "a_string" {
  value = "not hosts"
}

output "bad_group" {
  value = { web = "w1" }
}

output "no_name" {
  value = [{ role = "x" }]
}

output "bad_groups" {
  value = [{ name = "h", groups = [1, 2] }]
}
"""


@pytest.fixture(scope="module")
def tf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    terraform_binary()
    return apply_config(tmp_path_factory.mktemp("terraform") / "project", CONFIG)


@pytest.fixture(autouse=True)
def _no_dir_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYINFRA_TERRAFORM_DIR", raising=False)


def names_data(key: str | None, tf_dir: Path) -> list[tuple[str, dict[str, object], list[str]]]:
    return list(
        TerraformInventoryConnector.make_names_data(key, data={"terraform_dir": str(tf_dir)})
    )


def test_default_key_is_pyinfra_inventory_list_of_names(tf_dir: Path) -> None:
    assert names_data(None, tf_dir) == [
        ("@terraform/web1.example.test", {"ssh_hostname": "web1.example.test"}, []),
        ("@terraform/web2.example.test", {"ssh_hostname": "web2.example.test"}, []),
    ]


def test_list_of_objects_with_groups_and_data(tf_dir: Path) -> None:
    assert names_data("objects", tf_dir) == [
        (
            "@terraform/app1",
            {"ssh_hostname": "10.0.0.5", "ssh_port": 2222, "role": "primary"},
            ["app", "eu"],
        ),
        ("@terraform/10.0.0.6", {"ssh_hostname": "10.0.0.6"}, ["app"]),
        ("@terraform/app3", {"ssh_hostname": "app3"}, []),
    ]


def test_object_of_group_lists(tf_dir: Path) -> None:
    got = sorted(names_data("by_group.value", tf_dir))
    assert got == [
        ("@terraform/d1", {"ssh_hostname": "d1", "ssh_user": "postgres"}, ["db"]),
        ("@terraform/w1", {"ssh_hostname": "w1"}, ["web"]),
        ("@terraform/w2", {"ssh_hostname": "w2"}, ["web"]),
    ]


@pytest.mark.parametrize("key", ["nested.cluster.web", "nested.value.cluster.web"])
def test_dotted_keys_step_into_nested_outputs(tf_dir: Path, key: str) -> None:
    assert [n for n, _, _ in names_data(key, tf_dir)] == ["@terraform/n1", "@terraform/n2"]


def test_directory_from_environment(tf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYINFRA_TERRAFORM_DIR", str(tf_dir))
    names = [n for n, _, _ in TerraformInventoryConnector.make_names_data("nested.cluster.web")]
    assert names == ["@terraform/n1", "@terraform/n2"]


def test_directory_defaults_to_current_directory(
    tf_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tf_dir)
    assert len(list(TerraformInventoryConnector.make_names_data())) == 2


def test_missing_cli_config_file_is_ignored(tf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tf_dir / "does-not-exist.tfrc"))
    assert "TF_CLI_CONFIG_FILE" not in terraform_env()
    assert len(names_data(None, tf_dir)) == 2


def test_cli_config_warnings_stay_out_of_parsing(
    tf_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "bad.tfrc"
    config.write_text("provider_installation {\n  bogus {}\n}\n")
    # terraform itself complains about this configuration on stderr...
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config)}
    result = subprocess.run(
        [terraform_binary(), "output", "-json"], cwd=tf_dir, env=env, capture_output=True, text=True
    )
    assert "problems with the CLI configuration" in result.stderr
    # ...and the connector still parses the outputs.
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(config))
    assert len(names_data(None, tf_dir)) == 2


def test_terraform_dir_from_inventory_data(tf_dir: Path) -> None:
    inventory = Inventory((["@terraform/objects"], {"terraform_dir": str(tf_dir)}))
    host = inventory.get_host("@terraform/app1")
    assert host.data.ssh_hostname == "10.0.0.5"
    assert host.data.role == "primary"
    assert host.connector_cls.__name__ == "SSHConnector"
    assert [h.name for h in inventory.get_group("app")] == [
        "@terraform/app1",
        "@terraform/10.0.0.6",
    ]


def test_terraform_dir_from_group_data(tf_dir: Path) -> None:
    inventory = Inventory(([], {}), infra=(["@terraform"], {"terraform_dir": str(tf_dir)}))
    assert sorted(h.name for h in inventory.get_group("infra")) == [
        "@terraform/web1.example.test",
        "@terraform/web2.example.test",
    ]


def test_cli_debug_inventory_with_data_override(tf_dir: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyinfra_cli",
            "@terraform/by_group",
            "debug-inventory",
            "--json",
            "--data",
            f"terraform_dir={tf_dir}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    hosts = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert sorted(hosts) == ["@terraform/d1", "@terraform/w1", "@terraform/w2"]
    assert hosts["@terraform/d1"]["groups"] == ["db"]
    assert hosts["@terraform/d1"]["data"]["ssh_user"] == "postgres"
    assert hosts["@terraform/d1"]["connector"] == "SSHConnector"


# -- bad input: one line each ------------------------------------------------------------


def one_line_error(key: str | None, data: dict[str, object] | None = None) -> str:
    with pytest.raises(InventoryError) as info:
        list(TerraformInventoryConnector.make_names_data(key, data=data))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_terraform_not_installed(
    tf_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    message = one_line_error(None, {"terraform_dir": str(tf_dir)})
    assert "terraform is not installed" in message


def test_no_state_or_outputs(tmp_path: Path) -> None:
    terraform_binary()
    message = one_line_error(None, {"terraform_dir": str(tmp_path)})
    assert f"no state or no outputs in {tmp_path}" in message
    assert "terraform apply" in message


def test_directory_that_does_not_exist(tmp_path: Path) -> None:
    message = one_line_error(None, {"terraform_dir": str(tmp_path / "nope")})
    assert "is not a directory" in message


def test_missing_key_lists_existing_keys(tf_dir: Path) -> None:
    message = one_line_error("servers", {"terraform_dir": str(tf_dir)})
    assert "'servers' not found" in message
    for name in ("a_string", "by_group", "nested", "objects", "pyinfra_inventory"):
        assert name in message


def test_missing_nested_key_lists_keys_there(tf_dir: Path) -> None:
    message = one_line_error("nested.cluster.db", {"terraform_dir": str(tf_dir)})
    assert "no 'db' in nested.cluster" in message
    assert "size, web" in message


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a_string", "got string"),
        ("nested.cluster.size", "got number"),
        ("bad_group", "group 'web' holds string, not a list"),
        ("no_name", "without `name` or `ssh_hostname`"),
        ("bad_groups", "`groups` must be a list of group names"),
    ],
)
def test_wrong_shape(tf_dir: Path, key: str, expected: str) -> None:
    message = one_line_error(key, {"terraform_dir": str(tf_dir)})
    assert expected in message
    assert f"terraform output {key}" in message


def test_cli_reports_errors_on_one_line(tf_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pyinfra_cli", "@terraform/missing", "debug-inventory"],
        cwd=tf_dir,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "terraform output 'missing' not found" in result.stderr
