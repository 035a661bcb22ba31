"""A cloud-style inventory connector (tests/plugins/cloud.py) fetching its hosts from a
real HTTP server on 127.0.0.1, then a deploy over SSH (real sshd) to those hosts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pyinfra.api import Inventory
from pyinfra.api.connectors import register_connector, unregister_connector
from pyinfra.api.exceptions import InventoryError
from tests.helpers.sshd import (
    SSHServer,
    ensure_user,
    generate_client_key,
    make_sshd_fixture,
    remove_user,
    require_root,
)
from tests.plugins.cloud import API_ENV, CloudConnector

ROOT = Path(__file__).resolve().parents[3]
USER = "pyicloud"

sshd = make_sshd_fixture(scope="module")


class CloudAPI:
    """Serves ``GET /instances?tag=T`` from ``self.instances`` (tag ``broken``: 500)."""

    def __init__(self) -> None:
        self.instances: list[dict[str, Any]] = []
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urllib.parse.urlparse(self.path)
                tag = urllib.parse.parse_qs(url.query).get("tag", [""])[0]
                api.requests.append(tag)
                if url.path != "/instances" or tag == "broken":
                    self.send_response(500)
                    self.end_headers()
                    return
                body = json.dumps([i for i in api.instances if tag in i["tags"]]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def cloud() -> Iterator[CloudAPI]:
    api = CloudAPI()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def registered(cloud: CloudAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudAPI]:
    monkeypatch.setenv(API_ENV, cloud.url)
    register_connector("cloud", CloudConnector)
    try:
        yield cloud
    finally:
        unregister_connector("cloud")


def instance(name: str, env: str, port: int, tags: list[str]) -> dict[str, Any]:
    return {
        "id": f"i-{name}",
        "name": name,
        "type": "t3.small",
        "public_ip": "127.0.0.1",
        "ssh_port": port,
        "environment": env,
        "tags": tags,
    }


def test_hosts_come_from_the_http_api(registered: CloudAPI) -> None:
    registered.instances = [
        instance("web-1", "production", 2201, ["web"]),
        instance("web-2", "staging", 2202, ["web"]),
        instance("db-1", "production", 2203, ["db"]),
    ]
    inventory = Inventory((["@cloud/web"], {}))
    assert [h.name for h in inventory] == ["web-1", "web-2"]
    web1 = inventory.get_host("web-1")
    assert web1.data.instance_id == "i-web-1"
    assert web1.data.ssh_port == 2201
    assert web1.groups == ["production"]
    assert [h.name for h in inventory.get_group("staging")] == ["web-2"]
    # inventory-only connector: its hosts are reached over SSH
    assert web1.connector_cls.__name__ == "SSHConnector"
    assert registered.requests[-1] == "web"


def test_api_failure_is_one_line_naming_the_plugin(registered: CloudAPI) -> None:
    with pytest.raises(InventoryError) as info:
        Inventory((["@cloud/broken"], {}))
    message = str(info.value)
    assert "\n" not in message
    assert "connector @cloud (tests.plugins.cloud.CloudConnector) raised HTTPError" in message
    assert "@cloud/broken" in message


@pytest.fixture(scope="module")
def ssh_login(sshd: SSHServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    require_root()
    ensure_user(USER)
    keys = tmp_path_factory.mktemp("cloudkeys")
    key = generate_client_key(keys)
    sshd.authorize_key(USER, key.with_suffix(".pub"))
    try:
        yield key
    finally:
        remove_user(USER)


def test_deploy_over_ssh_to_cloud_hosts(
    cloud: CloudAPI, sshd: SSHServer, ssh_login: Path, tmp_path: Path
) -> None:
    cloud.instances = [
        instance("app-1", "production", sshd.port, ["app"]),
        instance("app-2", "production", sshd.port, ["app"]),
    ]
    known_hosts = sshd.write_known_hosts(tmp_path / "known_hosts")
    out_dir = Path(f"/home/{USER}")
    for name in ("app-1", "app-2"):
        (out_dir / f"{name}.txt").unlink(missing_ok=True)
    (tmp_path / "inventory.py").write_text(
        textwrap.dedent(
            f"""
            from pyinfra.api.connectors import register_connector
            from tests.plugins.cloud import CloudConnector

            register_connector("cloud", CloudConnector)

            app = ["@cloud/app"]
            all = {{
                "ssh_user": {USER!r},
                "ssh_key": {str(ssh_login)!r},
                "ssh_known_hosts_file": {str(known_hosts)!r},
                "ssh_strict_host_key_checking": "yes",
            }}
            """
        )
    )
    (tmp_path / "deploy.py").write_text(
        textwrap.dedent(
            """
            from pyinfra.context import host
            from pyinfra.operations import server

            server.shell(
                name="record where we are",
                commands=[f"echo {host.data.instance_id} > ~/{host.name}.txt"],
            )
            """
        )
    )
    env = {**os.environ, API_ENV: cloud.url, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "pyinfra_cli", "inventory.py", "deploy.py", "-y"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out_dir / "app-1.txt").read_text().strip() == "i-app-1"
    assert (out_dir / "app-2.txt").read_text().strip() == "i-app-2"
