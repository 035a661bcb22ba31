"""Inventory files, group_data, --data, --limit and debug-inventory (no target needed:
the hosts are @fake ones and nothing connects)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyinfra.api.connectors import register_connector, unregister_connector
from pyinfra.api.exceptions import InventoryError
from pyinfra.connectors.fake import FakeConnector
from pyinfra_cli.inventory import make_inventory, select_hosts, split_inventory_string

INVENTORY = """
import os  # modules, functions and other values are not groups
from pyinfra.api.connectors import get_connector

web = ["@fake/w1", ("@fake/w2", {"port": 81, "env": "canary"})]
db = (["@fake/d1"], {"db_role": "primary", "port": 5432})
all = {"env": "prod", "port": 80, "ssh_password": "hunter2"}
ports = [80, 443]
_hidden = ["@fake/hidden"]

def helper():
    return ["@fake/nope"]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def inventory_file(tmp_path: Path) -> Path:
    return write(tmp_path / "inventory.py", INVENTORY)


def test_groups_hosts_and_global_data(inventory_file: Path) -> None:
    inventory = make_inventory(str(inventory_file), {})
    assert sorted(h.name for h in inventory) == ["@fake/d1", "@fake/w1", "@fake/w2"]
    assert [h.name for h in inventory.get_group("web")] == ["@fake/w1", "@fake/w2"]
    assert [h.name for h in inventory.get_group("db")] == ["@fake/d1"]
    assert "ports" not in inventory.groups and "_hidden" not in inventory.groups
    w1, w2, d1 = (inventory.get_host(n) for n in ("@fake/w1", "@fake/w2", "@fake/d1"))
    assert (w1.data.env, w1.data.port) == ("prod", 80)  # global data
    assert (w2.data.env, w2.data.port) == ("canary", 81)  # host data wins
    assert (d1.data.db_role, d1.data.port, d1.data.env) == ("primary", 5432, "prod")


def test_group_data_files_next_to_the_inventory(inventory_file: Path) -> None:
    write(inventory_file.parent / "group_data" / "all.py", 'env = "from-file"\nregion = "eu"\n')
    write(
        inventory_file.parent / "group_data" / "web.py",
        """
        import os
        app_port = 8080
        port = 8000
        def not_data():
            pass
        """,
    )
    write(inventory_file.parent / "group_data" / "db.py", "port = 1\nbackup = True\n")
    inventory = make_inventory(str(inventory_file), {})
    w1 = inventory.get_host("@fake/w1")
    assert w1.data.region == "eu"  # group_data/all.py
    assert w1.data.env == "prod"  # `all` in the inventory wins over group_data/all.py
    assert (w1.data.app_port, w1.data.port) == (8080, 8000)
    assert "not_data" not in w1.data.dict() and "os" not in w1.data.dict()
    d1 = inventory.get_host("@fake/d1")
    assert d1.data.backup is True
    assert d1.data.port == 5432  # inline group data wins over group_data/db.py


def test_group_data_applies_to_groups_made_by_a_connector(tmp_path: Path) -> None:
    class Grouping(FakeConnector):
        @staticmethod
        def make_names_data(
            name: str | None = None,
        ) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
            yield f"@grouping/{name}", {}, ["made-by-connector"]

    register_connector("grouping", Grouping)
    try:
        write(tmp_path / "group_data" / "made-by-connector.py", "flavour = 'vanilla'\n")
        inventory = write(tmp_path / "inventory.py", 'hosts = ["@grouping/a"]\n')
        host = make_inventory(str(inventory), {}).get_host("@grouping/a")
        assert sorted(host.groups) == ["hosts", "made-by-connector"]
        assert host.data.flavour == "vanilla"
    finally:
        unregister_connector("grouping")


def test_group_data_in_current_directory_for_command_line_inventories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "group_data" / "all.py", "greeting = 'hi'\n")
    monkeypatch.chdir(tmp_path)
    inventory = make_inventory("@fake/a,@fake/b", {})
    assert [h.data.greeting for h in inventory] == ["hi", "hi"]


def test_data_overrides_win(inventory_file: Path) -> None:
    inventory = make_inventory(str(inventory_file), {"port": 1, "env": "dev"})
    for host in inventory:
        assert (host.data.port, host.data.env) == (1, "dev")


def test_tuple_groups_and_all_with_hosts(tmp_path: Path) -> None:
    path = write(
        tmp_path / "inv.py",
        """
        all = (["@fake/solo"], {"everyone": True})
        pair = ("@fake/p1", {"x": 1})
        two = ("@fake/t1", "@fake/t2")
        """,
    )
    inventory = make_inventory(str(path), {})
    assert sorted(h.name for h in inventory) == ["@fake/p1", "@fake/solo", "@fake/t1", "@fake/t2"]
    assert inventory.get_host("@fake/solo").groups == []
    assert inventory.get_host("@fake/p1").data.x == 1
    assert [h.name for h in inventory.get_group("two")] == ["@fake/t1", "@fake/t2"]
    assert all(h.data.everyone for h in inventory)


def test_limit_by_glob_group_and_commas(inventory_file: Path) -> None:
    inventory = make_inventory(str(inventory_file), {})
    assert [h.name for h in select_hosts(inventory, ["@fake/w*"])] == ["@fake/w1", "@fake/w2"]
    assert [h.name for h in select_hosts(inventory, ["db"])] == ["@fake/d1"]
    assert len(select_hosts(inventory, ["db,@fake/w2"])) == 2
    assert len(select_hosts(inventory, ["db", "web"])) == 3
    assert select_hosts(inventory, ["nothing*"]) == []


def test_comma_lists_keep_names_for_connectors_that_accept_them() -> None:
    assert split_inventory_string("@vagrant/a,b,@fake/x,c") == ["@vagrant/a,b", "@fake/x", "c"]
    assert split_inventory_string("@fake/a,b") == ["@fake/a", "b"]


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web = [\n", "syntax error in inventory file"),
        ("raise RuntimeError('no cloud credentials')", "raised RuntimeError: no cloud credentials"),
        ("x = 1\n", "defines no hosts"),
        ("web = ['@fake/a']\nall = 3\n", "`all` must be a dict of global data"),
        ("web = ['@nosuch/a']\n", "unknown connector @nosuch"),
    ],
)
def test_bad_inventory_files(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "inventory.py", text)
    with pytest.raises(InventoryError) as info:
        make_inventory(str(path), {})
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_group_data_file(inventory_file: Path) -> None:
    write(inventory_file.parent / "group_data" / "web.py", "port = (\n")
    with pytest.raises(InventoryError) as info:
        make_inventory(str(inventory_file), {})
    assert "syntax error in group data file" in str(info.value)
    assert "web.py" in str(info.value)


def test_missing_inventory_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="inventory file not found"):
        make_inventory(str(tmp_path / "nope.py"), {})


# -- the CLI -----------------------------------------------------------------------------


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyinfra_cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


def test_debug_inventory_json(inventory_file: Path) -> None:
    result = cli(
        "inventory.py",
        "debug-inventory",
        "--json",
        "--limit",
        "web",
        "--data",
        "env=qa",
        cwd=inventory_file.parent,
    )
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)  # pyinfra 3.x's shape: [{name, groups, data}]
    hosts = {entry["name"]: entry for entry in listed}
    assert sorted(hosts) == ["@fake/w1", "@fake/w2"]
    w2 = hosts["@fake/w2"]
    assert w2["groups"] == ["web"]
    assert w2["connector"] == "FakeConnector"
    assert w2["data"]["env"] == "qa" and w2["data"]["port"] == 81
    assert w2["data"]["ssh_password"] == "***"  # secrets are never printed
    assert "hunter2" not in result.stdout + result.stderr


def test_debug_inventory_table(inventory_file: Path) -> None:
    result = cli("inventory.py", "debug-inventory", cwd=inventory_file.parent)
    assert result.returncode == 0, result.stderr
    for text in ("Host", "Groups", "@fake/d1", "db", '"db_role": "primary"', "FakeConnector"):
        assert text in result.stdout
    assert "hunter2" not in result.stdout


def test_limit_matching_nothing_is_an_error(inventory_file: Path) -> None:
    result = cli("inventory.py", "debug-inventory", "--limit", "zzz", cwd=inventory_file.parent)
    assert result.returncode == 1
    assert "--limit zzz matches no host" in result.stderr
