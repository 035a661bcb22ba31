"""@dockerssh against real components: this machine as the Docker host over a real sshd
(form 1, ``@dockerssh/HOST:CONTAINER_OR_IMAGE``), and containers of the sshd image
reached through their own sshd (form 2, ``@dockerssh/CONTAINER``)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyinfra.api import Config
from pyinfra.api.exceptions import TransferError
from pyinfra.connectors.output import CommandOutput
from tests.helpers import dockerssh, engines
from tests.helpers.containerkit import connect_error, connected
from tests.helpers.dockerssh import DockerHostSSH
from tests.helpers.hosts import MakeHost

ENGINE = "docker"


@pytest.fixture(scope="module")
def docker_host() -> Iterator[DockerHostSSH]:
    engines.require(dockerssh.unavailable())
    env = DockerHostSSH().start()
    try:
        yield env
    finally:
        env.stop()


@pytest.fixture
def container(docker_host: DockerHostSSH) -> Iterator[str]:
    with engines.container(ENGINE, image=engines.SSHD_IMAGE) as name:
        yield name


def remote(target: str) -> str:
    return f"@dockerssh/127.0.0.1:{target}"


def _tag() -> str:
    return str(41000 + uuid.uuid4().int % 9000)


def _one_line(message: str, *parts: str) -> None:
    assert "\n" not in message, message
    for part in parts:
        assert part in message, message


def _host_processes(text: str) -> list[str]:
    """Command lines of processes of this machine (the Docker host) containing text."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if text in line and "ps -eo" not in line]


def _files_of(user: str) -> set[Path]:
    """Files the SSH user owns in the Docker host's temp directories and home."""
    import pwd

    entry = pwd.getpwnam(user)
    found: set[Path] = set()
    for top in (Path("/tmp"), Path("/var/tmp"), Path(entry.pw_dir)):
        for path in top.rglob("*") if top == Path(entry.pw_dir) else top.iterdir():
            try:
                if path.lstat().st_uid == entry.pw_uid:
                    found.add(path)
            except OSError:
                continue
    return found


# -- form 1: lifecycle ---------------------------------------------------------------------


def test_running_container_is_used_and_left_running(
    docker_host: DockerHostSSH, container: str
) -> None:
    with connected(remote(container), docker_host.data()) as host:
        ok, out = host.run_shell_command("cat /etc/debian_version; id -un")
        assert ok, out.stderr
        assert out.stdout_lines[0].startswith("12")
        assert out.stdout_lines[1] == "root"
        cid = host.connector_data["docker_container_id"]
    assert engines.cli(ENGINE, "inspect", "-f", "{{.Id}}", container).stdout.strip() == cid
    assert engines.container_state(ENGINE, container) == "running"


def test_stopped_container_is_started_and_stopped_again(docker_host: DockerHostSSH) -> None:
    name = f"pyi-test-{uuid.uuid4().hex[:10]}"
    engines.cli(ENGINE, "create", "--name", name, engines.BASE_IMAGE, "sleep", "infinity")
    try:
        data = {**docker_host.data(), "docker_stop_timeout": 1}
        with connected(remote(name), data) as host:
            assert engines.container_state(ENGINE, name) == "running"
            ok, _ = host.run_shell_command("touch /kept")
            assert ok
        assert engines.container_state(ENGINE, name) == "exited"
        engines.cli(ENGINE, "start", name)  # never deleted: the change is still there
        assert engines.cli(ENGINE, "exec", name, "ls", "/kept", check=False).returncode == 0
    finally:
        engines.remove_container(ENGINE, name)


def test_paused_container_is_unpaused_and_paused_again(
    docker_host: DockerHostSSH, container: str
) -> None:
    engines.cli(ENGINE, "pause", container)
    with connected(remote(container), docker_host.data()) as host:
        ok, out = host.run_shell_command("echo awake")
        assert ok and out.stdout == "awake"
    assert engines.container_state(ENGINE, container) == "paused"
    engines.cli(ENGINE, "unpause", container)


def test_image_is_run_committed_and_removed(
    docker_host: DockerHostSSH, caplog: pytest.LogCaptureFixture
) -> None:
    marker = f"/pyinfra-image-{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.INFO, logger="pyinfra")
    with connected(remote(engines.SSHD_IMAGE), docker_host.data()) as host:
        cid = host.connector_data["docker_container_id"]
        assert engines.container_state(ENGINE, cid) == "running"
        ok, _ = host.run_shell_command(f"touch {marker}")
        assert ok
    image = host.connector_data["docker_committed_image"]
    try:
        assert image.startswith("sha256:")
        assert image in caplog.text and "committed" in caplog.text
        assert engines.container_state(ENGINE, cid) == "missing"
        result = engines.cli(ENGINE, "run", "--rm", image, "ls", marker, check=False)
        assert result.returncode == 0, result.stderr
        # the source image's command is restored in the committed image
        source = engines.cli(ENGINE, "image", "inspect", engines.SSHD_IMAGE).stdout
        made = engines.cli(ENGINE, "image", "inspect", image).stdout
        assert json.loads(made)[0]["Config"]["Cmd"] == json.loads(source)[0]["Config"]["Cmd"]
    finally:
        engines.remove_image(ENGINE, image)


# -- form 1: execution ---------------------------------------------------------------------


def test_docker_user_runs_commands_and_owns_files(
    docker_host: DockerHostSSH, container: str
) -> None:
    with connected(remote(container), {**docker_host.data(), "docker_user": "nobody"}) as host:
        ok, out = host.run_shell_command("id -un")
        assert ok and out.stdout == "nobody"
        assert host.put_file(io.BytesIO(b"mine\n"), "/tmp/pyi-owned")
        ok, out = host.run_shell_command("stat -c %U /tmp/pyi-owned; cat /tmp/pyi-owned")
        assert ok and out.stdout_lines == ["nobody", "mine"]


@pytest.mark.parametrize("user", [None, "nobody"])
def test_timeout_kills_inside_the_container_and_the_client(
    docker_host: DockerHostSSH, container: str, user: str | None
) -> None:
    tag = _tag()
    data = {**docker_host.data(), **({"docker_user": user} if user else {})}
    with connected(remote(container), data) as host:
        ok, out = host.run_shell_command(f"sleep {tag}1 & sleep {tag}2; echo never", _timeout=1)
        assert not ok and out.timed_out
        assert "never" not in out.stdout
        for _ in range(50):
            inside = engines.container_process_exists(ENGINE, container, f"sleep {tag}")
            if not inside and not _host_processes(f"{tag}2"):
                break
            time.sleep(0.1)
        assert not engines.container_process_exists(ENGINE, container, f"sleep {tag}1")
        assert not engines.container_process_exists(ENGINE, container, f"sleep {tag}2")
        assert _host_processes(f"{tag}2") == [], "the docker client was left running"
        ok, out = host.run_shell_command("echo alive")
        assert ok and out.stdout == "alive"


def test_pty_with_stdin_is_not_echoed(docker_host: DockerHostSSH, container: str) -> None:
    with connected(remote(container), docker_host.data()) as host:
        ok, out = host.run_shell_command("cat", _stdin="one line\n", _get_pty=True, _timeout=30)
        assert ok, out.output
        assert out.stdout_lines == ["one line"]


def test_sudo_password_inside_the_container(
    docker_host: DockerHostSSH, container: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = f"pw-{uuid.uuid4().hex[:10]}"
    setup = (
        'useradd -m -s /bin/sh pyisudo && echo "pyisudo:$1" | chpasswd && '
        "echo 'pyisudo ALL=(ALL:ALL) ALL' > /etc/sudoers.d/pyisudo"
    )
    engines.cli(ENGINE, "exec", container, "sh", "-c", setup, "x", secret)
    caplog.set_level(logging.DEBUG)
    with connected(remote(container), {**docker_host.data(), "docker_user": "pyisudo"}) as host:
        ok, out = host.run_shell_command("id -un", _sudo=True, _sudo_password=secret)
        assert ok, out.output
        assert out.stdout == "root"
    assert secret not in caplog.text


def test_host_sudo_config_does_not_apply_on_the_docker_host(
    docker_host: DockerHostSSH, container: str, make_host: MakeHost
) -> None:
    # SUDO=True is for the container; the docker user on the host has no sudo rights,
    # so the docker commands there must not be wrapped in sudo.
    host = make_host(remote(container), docker_host.data(), Config(SUDO=True), connect=True)
    ok, out = host.run_shell_command("id -un")
    assert ok, out.output
    assert out.stdout == "root"


def test_large_file_round_trip_and_no_temp_files(
    docker_host: DockerHostSSH, container: str, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 40000  # ~10 MB
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    before = _files_of(dockerssh.DOCKER_USER)
    with connected(remote(container), docker_host.data()) as host:
        assert host.put_file(str(source), "/root/big.bin")
        assert host.put_file(str(source), "/root/big.bin")  # replaces
        back = tmp_path / "back.bin"
        assert host.get_file("/root/big.bin", str(back))
        assert back.read_bytes() == data
        with pytest.raises(TransferError) as info:
            host.put_file(str(source), "/nonexistent-dir/big.bin")
        _one_line(str(info.value), host.name)
        ok, out = host.run_shell_command("ls -a /root | grep -c pyinfra-upload || true")
        assert out.stdout == "0"
    assert _files_of(dockerssh.DOCKER_USER) == before, "temp files were left on the Docker host"


def test_container_that_stops_during_a_command(docker_host: DockerHostSSH, container: str) -> None:
    tag = _tag()
    result: dict[str, tuple[bool, CommandOutput]] = {}
    with connected(remote(container), docker_host.data()) as host:

        def run() -> None:
            result["out"] = host.run_shell_command(f"sleep {tag}", _timeout=60)

        thread = threading.Thread(target=run)
        thread.start()
        for _ in range(100):
            if engines.container_process_exists(ENGINE, container, f"sleep {tag}"):
                break
            time.sleep(0.1)
        engines.cli(ENGINE, "kill", container)
        thread.join(60)
        ok, out = result["out"]
        assert not ok
        assert f"container {container} on 127.0.0.1 is not running" in out.stderr


# -- form 1: errors ------------------------------------------------------------------------


def test_missing_container_or_image(docker_host: DockerHostSSH) -> None:
    message = connect_error(remote("pyi-no-such-thing"), docker_host.data())
    _one_line(message, "@dockerssh/127.0.0.1:pyi-no-such-thing", "no container or image")
    assert "127.0.0.1" in message


def test_docker_not_permitted(docker_host: DockerHostSSH, container: str) -> None:
    message = connect_error(remote(container), docker_host.data(dockerssh.NO_DOCKER_USER))
    _one_line(message, remote(container), dockerssh.NO_DOCKER_USER, "may not use docker")


def test_docker_not_installed(docker_host: DockerHostSSH, container: str) -> None:
    data = {**docker_host.data(), "dockerssh_docker_command": "pyinfra-no-docker-cli"}
    message = connect_error(remote(container), data)
    _one_line(message, remote(container), "is not installed on 127.0.0.1")


def test_docker_engine_not_running(docker_host: DockerHostSSH, container: str) -> None:
    data = {**docker_host.data(), "dockerssh_docker_command": "docker -H unix:///pyi-none.sock"}
    message = connect_error(remote(container), data)
    _one_line(message, remote(container), "engine on 127.0.0.1 is not running")


def test_missing_docker_user(docker_host: DockerHostSSH, container: str) -> None:
    data = {**docker_host.data(), "docker_user": "pyi-nobody-here"}
    message = connect_error(remote(container), data)
    _one_line(message, remote(container), "docker_user 'pyi-nobody-here' does not exist")


def test_ssh_host_unreachable(docker_host: DockerHostSSH) -> None:
    from tests.helpers.sshd import free_port

    data = {**docker_host.data(), "ssh_port": free_port()}
    message = connect_error(remote("anything"), data)
    _one_line(message, remote("anything"), "refused")


# -- form 2: the container's own sshd ------------------------------------------------------


@pytest.fixture(scope="module")
def client_key(docker_host: DockerHostSSH, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.helpers.sshd import generate_client_key

    return generate_client_key(tmp_path_factory.mktemp("dockerssh-key"))


def _pub(key: Path) -> Path:
    return key.with_name(key.name + ".pub")


def test_own_sshd_through_the_container_ip(client_key: Path, tmp_path: Path) -> None:
    name = dockerssh.sshd_container(_pub(client_key))
    try:
        address = dockerssh.container_ip(name)
        dockerssh.wait_for_sshd(address, 22)
        known = dockerssh.container_known_hosts(name, tmp_path / "known_hosts", address)
        with connected(f"@dockerssh/{name}", dockerssh.container_data(client_key, known)) as host:
            assert host.connector_data["dockerssh_address"] == f"{address}:22"
            ok, out = host.run_shell_command("id -un; hostname")
            assert ok, out.stderr
            cid = engines.cli(ENGINE, "inspect", "-f", "{{.Id}}", name).stdout.strip()
            assert out.stdout_lines == ["pyi", cid[:12]]
            assert host.put_file(io.BytesIO(b"via sftp"), "/tmp/pyi-form2")
            assert engines.cli(ENGINE, "exec", name, "cat", "/tmp/pyi-form2").stdout == "via sftp"
    finally:
        engines.remove_container(ENGINE, name)


def test_own_sshd_published_port_given_as_ssh_port(client_key: Path, tmp_path: Path) -> None:
    from tests.helpers.sshd import free_port

    port = free_port()
    name = dockerssh.sshd_container(_pub(client_key), publish=f"127.0.0.1:{port}:22")
    try:
        dockerssh.wait_for_sshd("127.0.0.1", port)
        known = dockerssh.container_known_hosts(name, tmp_path / "kh", "127.0.0.1", port)
        data = dockerssh.container_data(client_key, known, ssh_port=port)
        with connected(f"@dockerssh/{name}", data) as host:
            assert host.connector_data["dockerssh_address"] == f"127.0.0.1:{port}"
            ok, out = host.run_shell_command("id -un")
            assert ok and out.stdout == "pyi"
    finally:
        engines.remove_container(ENGINE, name)


def test_own_sshd_missing_container(client_key: Path, tmp_path: Path) -> None:
    data = dockerssh.container_data(client_key, tmp_path / "kh")
    message = connect_error("@dockerssh/pyi-no-such-container", data)
    _one_line(message, "@dockerssh/pyi-no-such-container", "no container named")
    assert "sshd" not in message


def test_own_sshd_stopped_container(client_key: Path, tmp_path: Path) -> None:
    name = f"pyi-test-{uuid.uuid4().hex[:10]}"
    engines.cli(ENGINE, "create", "--name", name, engines.SSHD_IMAGE)
    try:
        data = dockerssh.container_data(client_key, tmp_path / "kh")
        message = connect_error(f"@dockerssh/{name}", data)
        _one_line(message, f"@dockerssh/{name}", "is not running", f"docker start {name}")
    finally:
        engines.remove_container(ENGINE, name)


def test_own_sshd_container_without_sshd(client_key: Path, tmp_path: Path) -> None:
    with engines.container(ENGINE, image=engines.BASE_IMAGE) as name:
        data = dockerssh.container_data(client_key, tmp_path / "kh")
        message = connect_error(f"@dockerssh/{name}", data)
        _one_line(message, f"@dockerssh/{name}", "does it run sshd there?")


def test_own_sshd_container_without_network(client_key: Path, tmp_path: Path) -> None:
    with engines.container(ENGINE, image=engines.BASE_IMAGE, extra=("--network", "none")) as name:
        message = connect_error(
            f"@dockerssh/{name}", dockerssh.container_data(client_key, tmp_path / "kh")
        )
        _one_line(message, f"@dockerssh/{name}", "no IP address and publishes no port")
