"""@docker against a real dockerd: lifecycle rules, docker_user, timeouts, errors."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyinfra.api.exceptions import ConnectError
from tests.helpers import engines
from tests.helpers.containerkit import as_nobody, connect_error, connected
from tests.helpers.hosts import new_host

ENGINE = "docker"


@pytest.fixture(scope="session")
def docker_ready() -> None:
    engines.require(engines.ensure_base_image())


@pytest.fixture
def container(docker_ready: None) -> Iterator[str]:
    with engines.container(ENGINE) as name:
        yield name


def _tag() -> str:
    return str(40000 + uuid.uuid4().int % 9000)


# -- lifecycle -----------------------------------------------------------------------------


def test_running_container_is_used_and_left_running(container: str) -> None:
    with connected(f"@docker/{container}") as host:
        ok, out = host.run_shell_command("cat /etc/debian_version")
        assert ok and out.stdout.startswith("12")
        cid = host.connector_data["docker_container_id"]
    assert engines.cli(ENGINE, "inspect", "-f", "{{.Id}}", container).stdout.strip() == cid
    assert engines.container_state(ENGINE, container) == "running"


def test_stopped_container_is_started_and_stopped_again(docker_ready: None) -> None:
    name = f"pyi-test-{uuid.uuid4().hex[:10]}"
    engines.cli(ENGINE, "create", "--name", name, engines.BASE_IMAGE, "sleep", "infinity")
    try:
        assert engines.container_state(ENGINE, name) == "created"
        with connected(f"@docker/{name}", {"docker_stop_timeout": 1}) as host:
            assert engines.container_state(ENGINE, name) == "running"
            ok, _ = host.run_shell_command("touch /kept")
            assert ok
        assert engines.container_state(ENGINE, name) == "exited"
        # never deleted: the change is still in the container
        engines.cli(ENGINE, "start", name)
        assert engines.cli(ENGINE, "exec", name, "ls", "/kept", check=False).returncode == 0
    finally:
        engines.remove_container(ENGINE, name)


def test_paused_container_is_unpaused_and_paused_again(container: str) -> None:
    engines.cli(ENGINE, "pause", container)
    with connected(f"@docker/{container}") as host:
        ok, out = host.run_shell_command("echo awake")
        assert ok and out.stdout == "awake"
    assert engines.container_state(ENGINE, container) == "paused"
    engines.cli(ENGINE, "unpause", container)


def test_image_is_run_committed_and_removed(
    docker_ready: None, caplog: pytest.LogCaptureFixture
) -> None:
    marker = f"/pyinfra-image-{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.INFO, logger="pyinfra")
    host = new_host(f"@docker/{engines.BASE_IMAGE}")
    host.connect(raise_exceptions=True)
    committed = None
    try:
        cid = host.connector_data["docker_container_id"]
        assert engines.container_state(ENGINE, cid) == "running"
        ok, _ = host.run_shell_command(f"echo built > {marker}")
        assert ok
        host.disconnect()
        committed = host.connector_data["docker_committed_image"]
        assert committed.startswith("sha256:")
        assert committed in caplog.text
        assert engines.container_state(ENGINE, cid) == "missing"
        out = engines.cli(ENGINE, "run", "--rm", committed, "cat", marker)
        assert out.stdout.strip() == "built"
        # the source image is unchanged
        plain = engines.cli(ENGINE, "run", "--rm", engines.BASE_IMAGE, "ls", marker, check=False)
        assert plain.returncode != 0
    finally:
        host.disconnect()
        if committed:
            engines.remove_image(ENGINE, committed)


# -- docker_user ---------------------------------------------------------------------------


def test_docker_user_runs_commands_and_owns_files(container: str, tmp_path: Path) -> None:
    engines.cli(ENGINE, "exec", container, "useradd", "-m", "pyiuser")
    with connected(f"@docker/{container}", {"docker_user": "pyiuser"}) as host:
        ok, out = host.run_shell_command("id -un; echo $HOME")
        assert ok and out.stdout_lines == ["pyiuser", "/home/pyiuser"]
        # the exec path (stdin) runs as the user too
        ok, out = host.run_shell_command("cat; id -un", _stdin="in\n")
        assert ok and out.stdout_lines == ["in", "pyiuser"]
        assert host.put_file(io.BytesIO(b"mine\n"), "/home/pyiuser/f.txt")
        ok, out = host.run_shell_command("stat -c '%U %G' /home/pyiuser/f.txt")
        assert ok and out.stdout == "pyiuser pyiuser"
        local = tmp_path / "back.txt"
        assert host.get_file("/home/pyiuser/f.txt", str(local))
        assert local.read_bytes() == b"mine\n"
        ok, out = host.run_shell_command("touch /root/nope")
        assert not ok and "Permission denied" in out.stderr


def test_docker_user_missing(container: str) -> None:
    message = connect_error(f"@docker/{container}", {"docker_user": "pyinosuchuser"})
    assert "docker_user 'pyinosuchuser' does not exist in container" in message
    assert "\n" not in message


# -- timeouts ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["session", "exec"])
def test_timeout_kills_inside_the_container(container: str, path: str) -> None:
    tag = _tag()
    extra: dict[str, Any] = {"_stdin": "x\n"} if path == "exec" else {}
    engines.cli(ENGINE, "exec", container, "useradd", "pyiuser")
    with connected(f"@docker/{container}", {"docker_user": "pyiuser"}) as host:
        ok, out = host.run_shell_command(
            f"sleep {tag}1 & (sleep {tag}2 &) ; sleep {tag}3", _timeout=1, **extra
        )
        assert not ok and out.timed_out
        for suffix in "123":
            assert not engines.container_process_exists(ENGINE, container, f"sleep {tag}{suffix}")
        ok, out = host.run_shell_command("echo alive")
        assert ok and out.stdout == "alive"


# -- one shell -----------------------------------------------------------------------------

_COUNT_SHELLS = (
    'p=$$; n=0; while [ "$p" -gt 0 ]; do '
    "case \"$(tr '\\0' ' ' < /proc/$p/cmdline)\" in *COUNTME*) n=$((n+1));; esac; "
    "p=$(cut -d' ' -f4 /proc/$p/stat); done; echo $n"
)


@pytest.mark.parametrize("extra", [{}, {"_stdin": ""}, {"_get_pty": True}])
def test_one_shell_per_command(container: str, extra: dict[str, object]) -> None:
    with connected(f"@docker/{container}") as host:
        ok, out = host.run_shell_command(_COUNT_SHELLS, **extra)  # type: ignore[arg-type]
        assert ok, out.stderr
        assert out.stdout.strip() == "1"


# -- engine endpoint -----------------------------------------------------------------------


def test_docker_host_and_context_are_honoured(
    container: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    with connected(f"@docker/{container}") as host:
        assert host.run_shell_command("true")[0]
    monkeypatch.delenv("DOCKER_HOST")
    import hashlib

    meta = tmp_path / "contexts" / "meta" / hashlib.sha256(b"pyi").hexdigest()
    meta.mkdir(parents=True)
    missing = tmp_path / "missing.sock"
    (meta / "meta.json").write_text(
        json.dumps({"Name": "pyi", "Endpoints": {"docker": {"Host": f"unix://{missing}"}}})
    )
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "pyi"}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    message = connect_error(f"@docker/{container}")
    assert str(missing) in message


# -- errors --------------------------------------------------------------------------------


def test_error_container_or_image_not_found(docker_ready: None) -> None:
    message = connect_error("@docker/pyi-no-such-container-or-image")
    assert "no container or image named 'pyi-no-such-container-or-image'" in message
    assert "\n" not in message


def test_error_socket_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    message = connect_error("@docker/anything")
    assert "does not exist, the engine is not running" in message
    assert "dockerd" in message  # says how to start it
    assert "\n" not in message


def test_error_engine_not_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(path))  # bound, never listening: like a dead daemon's socket
        monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
        message = connect_error("@docker/anything")
    assert "refuses connections" in message and "dockerd" in message


def test_error_permission_denied_on_socket(docker_ready: None) -> None:
    socket_path = "/var/run/docker.sock"
    if os.stat(socket_path).st_mode & 0o006:
        pytest.skip(f"{socket_path} is world-accessible here")
    host = new_host("@docker/anything")
    _ = host.connector  # import and build everything before dropping privileges

    def attempt() -> str:
        try:
            host.connect(raise_exceptions=True)
        except ConnectError as exc:
            return str(exc)
        return "connected"

    message = as_nobody(attempt)
    assert "permission denied on docker API socket /var/run/docker.sock" in message


def test_error_container_exits_during_the_run(container: str) -> None:
    with connected(f"@docker/{container}") as host:
        assert host.run_shell_command("true")[0]
        killer = threading.Timer(1.0, engines.cli, (ENGINE, "kill", container))
        killer.start()
        try:
            ok, out = host.run_shell_command("sleep 60", _timeout=30)
        finally:
            killer.join()
        assert not ok
        assert f"container {container} stopped during the command" in out.stderr
        with pytest.raises(ConnectError, match="exited during the run"):
            host.run_shell_command("true")


def test_error_container_exits_when_started(docker_ready: None) -> None:
    name = f"pyi-test-{uuid.uuid4().hex[:10]}"
    engines.cli(ENGINE, "create", "--name", name, engines.BASE_IMAGE, "true")
    try:
        message = connect_error(f"@docker/{name}")
        assert "exited right after being started" in message
    finally:
        engines.remove_container(ENGINE, name)


def test_many_commands_keep_output_separate(container: str) -> None:
    with connected(f"@docker/{container}") as host:
        for i in range(30):
            ok, out = host.run_shell_command(f"printf 'a{i}'; printf 'b{i}' >&2")
            assert ok and out.stdout == f"a{i}" and out.stderr == f"b{i}"


def test_platform_of_an_image_container(docker_ready: None) -> None:
    host = new_host(f"@docker/{engines.BASE_IMAGE}", {"docker_platform": "linux/amd64"})
    committed = None
    try:
        if os.uname().machine != "x86_64":
            pytest.skip("the base image is only amd64 on x86_64 machines")
        host.connect(raise_exceptions=True)
        ok, out = host.run_shell_command("uname -m")
        assert ok and out.stdout == "x86_64"
        host.disconnect()
        committed = host.connector_data["docker_committed_image"]
    finally:
        host.disconnect()
        if committed:
            engines.remove_image(ENGINE, committed)
    message = connect_error(f"@docker/{engines.BASE_IMAGE}", {"docker_architecture": "arm64"})
    assert "does not match the specified platform" in message
