"""docker.* operations and the docker/podman facts against the real dockerd on @local,
with the local test images only (no registry: nothing pulls).

dockerd is shared: every object made here is named ``pyi-data-...`` (and the prune
test only prunes objects carrying this test's own label). Each idempotent operation:
a dry run reports changes and changes nothing, the first run changes, the second
changes nothing.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta
from pyinfra.facts import docker as facts
from pyinfra.facts.podman import PodmanPs, PodmanSystemInfo
from pyinfra.operations import docker
from tests.helpers import engines
from tests.helpers.containerkit import connected
from tests.helpers.deploykit import run
from tests.helpers.dockerdata import FakeRegistry, free_port, make_plugin_dir, plugin_unavailable

BASE = engines.BASE_IMAGE


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    engines.require(engines.ensure_base_image())
    with connected("@local") as h:
        yield h


SSH_USER = "pyi-data-ssh"


@pytest.fixture(scope="module")
def ssh_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    """This machine over a real sshd (port 42300-42399) as a user with NOPASSWD sudo:
    the docker operations then run ``docker`` with ``_sudo=True`` over SSH."""
    from tests.helpers import sshd

    engines.require(engines.ensure_base_image())
    sshd.require_sshd()
    sshd.require_root()
    sshd.require_sudo()
    work = Path(tempfile.mkdtemp(prefix="pyi-data-sshd-"))
    work.chmod(0o755)
    sshd.ensure_user(SSH_USER, shell="/bin/sh", sudo="nopasswd")
    key = sshd.generate_client_key(tmp_path_factory.mktemp("pyi-data-key"))
    server = sshd.SSHServer(work, port=free_port(start=53), host_key_types=["ed25519"])
    server.start()
    try:
        server.authorize_key(SSH_USER, key.with_name(key.name + ".pub"))
        known = server.write_known_hosts(work / "known_hosts")
        data = {
            "ssh_port": server.port,
            "ssh_user": SSH_USER,
            "ssh_key": str(key),
            "ssh_known_hosts_file": str(known),
            "ssh_strict_host_key_checking": "yes",
            "ssh_allow_agent": False,
            "ssh_look_for_keys": False,
        }
        with connected("127.0.0.1", data) as h:
            yield h
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
        sshd.remove_user(SSH_USER)


@pytest.fixture
def prefix() -> Iterator[str]:
    """A unique ``pyi-data-...`` name stem; everything named with it is removed after."""
    stem = f"pyi-data-{uuid.uuid4().hex[:8]}"
    yield stem
    _remove_all(stem)


def _docker(*args: str, check: bool = True) -> str:
    return engines.cli("docker", *args, check=check).stdout


def _remove_all(stem: str) -> None:
    for kind, listing in (
        ("container", ["ps", "-aq", "--filter", f"name={stem}"]),
        ("network", ["network", "ls", "-q", "--filter", f"name={stem}"]),
        ("volume", ["volume", "ls", "-q", "--filter", f"name={stem}"]),
    ):
        ids = _docker(*listing, check=False).split()
        if ids:
            force = ["-f"] if kind == "container" else []
            _docker(kind, "rm", *force, *ids, check=False)
    images = _docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).split()
    mine = [i for i in images if i.startswith(stem)]
    if mine:
        _docker("rmi", "-f", *mine, check=False)
    plugins = _docker("plugin", "ls", "--format", "{{.Name}}", check=False).split()
    for plugin in plugins:
        if plugin.startswith(stem):
            _docker("plugin", "rm", "-f", plugin, check=False)


def _snapshot(stem: str) -> str:
    return "\n".join(
        [
            _docker("ps", "-a", "--filter", f"name={stem}", "--format", "{{.Names}} {{.State}}"),
            _docker("network", "ls", "--filter", f"name={stem}", "--format", "{{.Name}}"),
            _docker("volume", "ls", "--filter", f"name={stem}", "--format", "{{.Name}}"),
            _docker("images", "--format", "{{.Repository}}:{{.Tag}}", f"{stem}*"),
            _docker("plugin", "ls", "--format", "{{.Name}} {{.Enabled}}"),
        ]
    )


def _changed(results: list[OperationMeta]) -> list[str]:
    return [m.name for m in results if m.changed]


def contract(host: Host, deploy: Callable[[], None], stem: str) -> list[OperationMeta]:
    before = _snapshot(stem)
    dry = run(host, deploy, dry=True)
    assert _changed(dry), "the dry run should report changes"
    assert all(not c.executed for m in dry for c in m.commands)
    assert _snapshot(stem) == before, "the dry run changed docker"
    first = run(host, deploy)
    assert _changed(first)
    second = run(host, deploy)
    assert _changed(second) == [], [(m.name, m.commands, m.noops) for m in second if m.changed]
    assert _changed(run(host, deploy, dry=True)) == []
    return first


def _inspect(name: str) -> dict[str, Any]:
    return json.loads(_docker("container", "inspect", name))[0]  # type: ignore[no-any-return]


# Containers, networks, volumes -----------------------------------------------------------


def test_container_network_volume_lifecycle(
    host: Host, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    net, vol, app, idle = f"{prefix}-net", f"{prefix}-vol", f"{prefix}-app", f"{prefix}-idle"

    def settings(env: str = "MODE=one") -> dict[str, Any]:
        return {
            "image": BASE,
            "command": "-c 'sleep infinity'",
            "entrypoint": "/bin/sh",
            "networks": [net],
            "volumes": [f"{vol}:/data", "/anon"],
            "mounts": ["type=tmpfs,target=/scratch"],
            "ports": ["127.0.0.1::8080"],
            "env_vars": [env, "SPACED=a b"],
            "labels": ["pyi-data.role=app", "pyi-data.empty"],
            "restart_policy": "on-failure:2",
            "hostname": "pyi-data-app",
            "user": "root",
            "cpus": 0.5,
            "memory": "64m",
            "dns": ["127.0.0.1"],
            "extra_args": ["--init"],  # a PID 1 that stops at once on SIGTERM
        }

    def deploy() -> None:
        docker.network(net, labels=["pyi-data=1"], subnet="10.213.7.0/24")
        docker.volume(vol, labels=["pyi-data=1"])
        docker.container(app, **settings())
        docker.container(idle, image=BASE, command="sleep infinity", start=False)

    contract(host, deploy, prefix)
    app_info = _inspect(app)
    assert app_info["State"]["Status"] == "running"
    assert "MODE=one" in app_info["Config"]["Env"]
    assert app_info["Config"]["Cmd"] == ["-c", "sleep infinity"]
    assert app_info["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert net in app_info["NetworkSettings"]["Networks"]
    assert _inspect(idle)["State"]["Status"] == "created"

    # One setting changes: the container is re-created (new id), once.
    old_id = app_info["Id"]

    def change() -> None:
        docker.container(app, **settings(env="MODE=two"))

    caplog.set_level(logging.INFO, logger="pyinfra")
    contract(host, change, prefix)
    assert f"container {app} is re-created (env_vars changed)" in caplog.text
    assert _inspect(app)["Id"] != old_id and "MODE=two" in _inspect(app)["Config"]["Env"]

    def stop_and_start() -> None:
        docker.container(app, start=False)
        docker.container(idle)  # exists: starting it needs no image

    contract(host, stop_and_start, prefix)
    assert _inspect(app)["State"]["Status"] == "exited"
    assert _inspect(idle)["State"]["Status"] == "running"

    def remove() -> None:
        docker.container(app, present=False)
        docker.container(idle, present=False)
        docker.volume(vol, present=False)
        docker.network(net, present=False)

    contract(host, remove, prefix)
    assert _snapshot(prefix).strip().splitlines() == [
        line for line in _snapshot(prefix).strip().splitlines() if prefix not in line
    ]


def test_docker_over_ssh(ssh_host: Host, prefix: str) -> None:
    """The same operations through @ssh (docker run with sudo by an unprivileged user)."""
    net, vol, app = f"{prefix}-net", f"{prefix}-vol", f"{prefix}-app"

    def deploy() -> None:
        docker.network(net, _sudo=True)
        docker.volume(vol, labels=["pyi-data=ssh"], _sudo=True)
        docker.container(
            app,
            image=BASE,
            command="sleep infinity",
            networks=[net],
            volumes=[f"{vol}:/data"],
            env_vars=["VIA=ssh"],
            extra_args=["--init"],
            _sudo=True,
        )

    contract(ssh_host, deploy, prefix)
    assert _inspect(app)["State"]["Status"] == "running"
    assert (
        "VIA=ssh" in ssh_host.get_fact(facts.DockerContainer, app, _sudo=True)[0]["Config"]["Env"]
    )

    def remove() -> None:
        docker.container(app, present=False, _sudo=True)
        docker.volume(vol, present=False, _sudo=True)
        docker.network(net, present=False, _sudo=True)

    contract(ssh_host, remove, prefix)
    assert prefix not in _snapshot(prefix)


def test_container_exec(host: Host, prefix: str) -> None:
    name = f"{prefix}-exec"
    engines.run_container("docker", BASE, name=name)

    def deploy() -> None:
        docker.container_exec(name, 'echo "$GREETING" > /tmp/out', env={"GREETING": "hi"})
        docker.container_exec(
            name, ["sh", "-c", 'echo "$(pwd) $(id -un) $0" >> /tmp/out', "x;y"], workdir="/etc"
        )

    dry = run(host, deploy, dry=True)
    assert len(_changed(dry)) == 2
    assert _docker("exec", name, "sh", "-c", "cat /tmp/out 2>/dev/null || true") == ""
    results = run(host, deploy)
    assert all(m.changed for m in results)
    assert _docker("exec", name, "cat", "/tmp/out") == "hi\n/etc root x;y\n"


# Images and builds ----------------------------------------------------------------------


def test_build_and_image(host: Host, prefix: str, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile.pyi").write_text(
        f'FROM {BASE}\nARG WHO=nobody\nLABEL pyi-data.who=$WHO\nCMD ["sleep", "infinity"]\n'
    )
    tag, other = f"{prefix}-img:1", f"{prefix}-img:also"

    def deploy() -> None:
        docker.build(
            str(context),
            tags=[tag, other],
            dockerfile="Dockerfile.pyi",
            build_args={"WHO": "pyi data"},
            labels={"pyi-data.built": "yes"},
            network="none",
            _chdir=str(context),  # -f is relative to the working directory, as in docker
        )
        docker.image(tag)  # present with a specific tag: nothing to pull

    contract(host, deploy, prefix)
    labels = json.loads(_docker("image", "inspect", tag))[0]["Config"]["Labels"]
    assert labels["pyi-data.who"] == "pyi data" and labels["pyi-data.built"] == "yes"

    def remove() -> None:
        docker.image(tag, present=False)
        docker.image(other, present=False)

    contract(host, remove, prefix)
    assert _docker("images", "-q", f"{prefix}-img") == ""


def test_missing_image_is_a_clear_error_and_nothing_pulls(host: Host, prefix: str) -> None:
    missing = f"{prefix}-missing:1"

    def deploy() -> None:
        docker.container(f"{prefix}-c", image=missing)

    for dry in (True, False):
        results = run(host, deploy, dry=dry, expect_success=False)
        error = results[-1].error or ""
        assert f"image {missing} is not on the host" in error and "\n" not in error, error
        assert "docker.image" in error and results[-1].commands == []
    assert prefix not in _snapshot(prefix)

    def no_image() -> None:
        docker.container(f"{prefix}-c")

    results = run(host, no_image, expect_success=False)
    assert "give the image to create it" in (results[-1].error or "")
    results = run(host, lambda: docker.image("bad ref:"), expect_success=False)
    assert "argument image" in (results[-1].error or "")
    _docker("container", "create", "--name", f"{prefix}-e", BASE, "true")
    results = run(host, lambda: docker.container(f"{prefix}-e", force=True), expect_success=False)
    assert "(force=True) needs the image" in (results[-1].error or "")


# Plugins ---------------------------------------------------------------------------------


def test_plugin(host: Host, prefix: str, tmp_path: Path) -> None:
    reason = plugin_unavailable()
    if reason:
        engines.require(reason)
    name = f"{prefix}-plugin:latest"
    _docker("plugin", "create", name, str(make_plugin_dir(tmp_path / "plugin")))

    def enable() -> None:
        docker.plugin(name, plugin_options={"DEBUG": "1"})

    contract(host, enable, prefix)
    info = json.loads(_docker("plugin", "inspect", name))[0]
    assert info["Enabled"] is True and "DEBUG=1" in info["Settings"]["Env"]

    def disable() -> None:
        docker.plugin(name, enabled=False, plugin_options={"DEBUG": "1"})

    contract(host, disable, prefix)
    assert json.loads(_docker("plugin", "inspect", name))[0]["Enabled"] is False

    def remove() -> None:
        docker.plugin(name, present=False)

    contract(host, remove, prefix)
    assert name not in _docker("plugin", "ls", "--format", "{{.Name}}")


# Prune -------------------------------------------------------------------------------------


def test_prune_only_touches_labelled_objects(host: Host, prefix: str) -> None:
    label = f"pyi-data-prune={prefix}"
    doomed, kept = f"{prefix}-doomed", f"{prefix}-kept"
    _docker("container", "create", "--name", doomed, "--label", label, BASE, "true")
    _docker("container", "create", "--name", kept, BASE, "true")
    _docker("network", "create", "--label", label, f"{prefix}-net")
    _docker("volume", "create", "--label", label, f"{prefix}-vol")

    def deploy() -> None:
        docker.prune(volumes=True, filter=f"label={label}")

    dry = run(host, deploy, dry=True)
    assert _changed(dry) and _docker("ps", "-aq", "--filter", f"name={doomed}")
    results = run(host, deploy)
    assert all(m.success for m in results)
    assert _docker("ps", "-aq", "--filter", f"name={doomed}") == ""
    assert _docker("ps", "-aq", "--filter", f"name={kept}") != ""
    assert _docker("network", "ls", "-q", "--filter", f"name={prefix}-net") == ""
    assert _docker("volume", "ls", "-q", "--filter", f"name={prefix}-vol") == ""
    assert _docker("image", "inspect", "-f", "{{.Id}}", BASE)  # images untouched


# Compose -----------------------------------------------------------------------------------


def test_compose_v1(host: Host, prefix: str, tmp_path: Path) -> None:
    if shutil.which("docker-compose") is None:
        engines.require("docker-compose is missing (scripts/setup-data.sh installs it)")
    project = tmp_path / "stack"
    project.mkdir()
    (project / "docker-compose.yml").write_text(
        "version: '3.7'\nservices:\n  app:\n"
        f"    image: {BASE}\n    command: sleep infinity\n    init: true\n    environment:\n"
        "      - WHO=${WHO}\n"
    )
    name = prefix.replace("-", "")

    def up() -> None:
        docker.compose(
            str(project), project_name=name, compose_command="docker-compose", _env={"WHO": "pyi"}
        )

    dry = run(host, up, dry=True)
    assert _changed(dry) and all(not c.executed for m in dry for c in m.commands)
    assert _docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}") == ""
    results = run(host, up)
    assert all(m.changed and m.success for m in results), [m.error for m in results]
    ids = _docker("ps", "-q", "--filter", f"label=com.docker.compose.project={name}").split()
    assert len(ids) == 1
    assert "WHO=pyi" in _inspect(ids[0])["Config"]["Env"]

    def down() -> None:
        docker.compose(
            str(project), project_name=name, present=False, compose_command="docker-compose"
        )

    assert all(m.success for m in run(host, down))
    assert _docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}") == ""


# Registries -----------------------------------------------------------------------------


def test_login_logout(
    host: Host, prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    password = "pyi-data-LoginS3cret 'q\" $x"
    config = tmp_path / "docker-config"
    env = {"DOCKER_CONFIG": str(config)}
    caplog.set_level(logging.DEBUG)
    assert host.state is not None
    with FakeRegistry("pyi-user", password) as registry:

        def login() -> None:
            docker.login("pyi-user", password, server=registry.address, _env=env)

        host.state.print_input = True
        first = contract(host, login, prefix)
        host.state.print_input = False
        assert host.get_fact(facts.DockerAuths, _env=env) == [registry.address]
        assert "/v2/" in registry.requests

        def logout() -> None:
            docker.logout(server=registry.address, _env=env)

        contract(host, logout, prefix)
        assert host.get_fact(facts.DockerAuths, _env=env) == []

        def wrong() -> None:
            docker.login("pyi-user", "not-" + password, server=registry.address, _env=env)

        failed = run(host, wrong, expect_success=False)
        assert "401 Unauthorized" in (failed[-1].error or ""), failed[-1].error
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "docker login --username pyi-user --password-stdin" in logged
    for text in (logged, json.dumps([m.to_dict() for m in first + failed])):
        assert password not in text and "LoginS3cret" not in text


# Facts ---------------------------------------------------------------------------------------


def test_docker_facts(host: Host, prefix: str) -> None:
    name, vol, net = f"{prefix}-facts", f"{prefix}-vol", f"{prefix}-net"
    _docker("volume", "create", "--label", "pyi-data=vol", vol)
    _docker("network", "create", "--label", "pyi-data=net", net)
    engines.run_container(
        "docker", BASE, name=name,
        extra=("--label", "pyi-data=c", "-e", "PYI=1", "-v", f"{vol}:/data", "--network", net),
    )  # fmt: skip
    _docker("exec", name, "touch", "/tmp/pyi-new")
    cid = _inspect(name)["Id"]
    base_id = json.loads(_docker("image", "inspect", BASE))[0]["Id"]

    assert host.get_fact(facts.DockerContainer, name)[0]["Id"] == cid
    assert host.get_fact(facts.DockerContainer, f"{prefix}-none") == []
    containers = host.get_fact(facts.DockerContainers)
    assert cid in {c["Id"] for c in containers}
    assert host.get_fact(facts.DockerContainerEnvs)[cid]["PYI"] == "1"
    assert host.get_fact(facts.DockerContainerLabels)[cid] == {"pyi-data": "c"}
    assert any(m.get("Name") == vol for m in host.get_fact(facts.DockerContainerMounts)[cid])
    assert net in host.get_fact(facts.DockerContainerNetworks)[cid]
    assert host.get_fact(facts.DockerContainerPorts)[cid] == {}
    assert {"change": "A", "path": "/tmp/pyi-new"} in host.get_fact(
        facts.DockerContainerFsChanges, name
    )
    processes = host.get_fact(facts.DockerContainerProcesses, name)
    assert any("sleep infinity" in p["CMD"] for p in processes)
    assert any(s["Name"] == name for s in host.get_fact(facts.DockerContainerStats))

    assert host.get_fact(facts.DockerImage, BASE)[0]["Id"] == base_id
    assert base_id in {i["Id"] for i in host.get_fact(facts.DockerImages)}
    assert base_id in host.get_fact(facts.DockerImageLabels)
    assert host.get_fact(facts.DockerImageLayers)[base_id]
    assert host.get_fact(facts.DockerImageHistory, BASE)[0]["CreatedBy"] is not None

    network_id = host.get_fact(facts.DockerNetwork, net)[0]["Id"]
    assert host.get_fact(facts.DockerNetworkLabels)[network_id] == {"pyi-data": "net"}
    assert net in {n["Name"] for n in host.get_fact(facts.DockerNetworks)}
    assert host.get_fact(facts.DockerVolume, vol)[0]["Name"] == vol
    assert host.get_fact(facts.DockerVolumeLabels)[vol] == {"pyi-data": "vol"}
    assert vol in {v["Name"] for v in host.get_fact(facts.DockerVolumes)}
    assert isinstance(host.get_fact(facts.DockerPlugins), list)
    assert host.get_fact(facts.DockerPlugin, f"{prefix}-none") == []

    info = host.get_fact(facts.DockerSystemInfo)
    assert info["ServerVersion"] and info["Containers"] >= 1
    assert host.get_fact(facts.DockerVersion).startswith("Docker version ")
    assert isinstance(host.get_fact(facts.DockerAuths), list)


def test_podman_facts(host: Host) -> None:
    engines.require(engines.ensure_podman())
    info = host.get_fact(PodmanSystemInfo)
    assert info["version"]["Version"] == subprocess.run(
        ["podman", "version", "--format", "{{.Client.Version}}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    listed = host.get_fact(PodmanPs)
    expected = subprocess.run(
        ["podman", "ps", "-aq", "--no-trunc"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(c["Id"] for c in listed) == sorted(expected)
