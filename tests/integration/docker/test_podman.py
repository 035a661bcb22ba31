"""@podman against real podman (its Docker-compatible API service): the same rules as @docker."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import engines
from tests.helpers.containerkit import connect_error, connected
from tests.helpers.hosts import new_host

ENGINE = "podman"


@pytest.fixture(scope="session")
def podman_ready() -> None:
    engines.require(engines.ensure_podman())


@pytest.fixture
def container(podman_ready: None) -> Iterator[str]:
    with engines.container(ENGINE) as name:
        yield name


def test_running_container_is_used_and_left_running(container: str) -> None:
    with connected(f"@podman/{container}") as host:
        ok, out = host.run_shell_command("cat /etc/debian_version; echo err >&2")
        assert ok and out.stdout.startswith("12") and out.stderr == "err"
        ok, out = host.run_shell_command("cat", _stdin="via stdin\n")
        assert ok and out.stdout == "via stdin"
    assert engines.container_state(ENGINE, container) == "running"


def test_stopped_container_is_started_and_stopped_again(podman_ready: None) -> None:
    name = f"pyi-test-{uuid.uuid4().hex[:10]}"
    engines.cli(
        ENGINE,
        "create",
        "--name",
        name,
        *engines.PODMAN_RUN_LIMITS,
        engines.BASE_IMAGE,
        "sleep",
        "infinity",
    )
    try:
        with connected(f"@podman/{name}", {"docker_stop_timeout": 1}) as host:
            assert engines.container_state(ENGINE, name) == "running"
            assert host.run_shell_command("true")[0]
        assert engines.container_state(ENGINE, name) == "exited"
    finally:
        engines.remove_container(ENGINE, name)


def test_image_is_run_committed_and_removed(
    podman_ready: None, caplog: pytest.LogCaptureFixture
) -> None:
    marker = f"/pyinfra-image-{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.INFO, logger="pyinfra")
    host = new_host(f"@podman/{engines.BASE_IMAGE}")
    host.connect(raise_exceptions=True)
    committed = None
    try:
        cid = host.connector_data["docker_container_id"]
        assert host.run_shell_command(f"echo built > {marker}")[0]
        host.disconnect()
        committed = host.connector_data["docker_committed_image"]
        assert committed and committed in caplog.text
        assert engines.container_state(ENGINE, cid) == "missing"
        out = engines.cli(
            ENGINE, "run", "--rm", *engines.PODMAN_RUN_LIMITS, committed, "cat", marker
        )
        assert out.stdout.strip() == "built"
    finally:
        host.disconnect()
        if committed:
            engines.remove_image(ENGINE, committed)


def test_docker_user(container: str, tmp_path: Path) -> None:
    engines.cli(ENGINE, "exec", container, "useradd", "-m", "pyiuser")
    with connected(f"@podman/{container}", {"docker_user": "pyiuser"}) as host:
        ok, out = host.run_shell_command("id -un")
        assert ok and out.stdout == "pyiuser"
        assert host.put_file(io.BytesIO(b"mine"), "/home/pyiuser/f")
        ok, out = host.run_shell_command("stat -c %U /home/pyiuser/f")
        assert ok and out.stdout == "pyiuser"
    message = connect_error(f"@podman/{container}", {"docker_user": "pyinosuchuser"})
    assert "docker_user 'pyinosuchuser' does not exist" in message


def test_error_not_found(podman_ready: None) -> None:
    message = connect_error("@podman/pyi-no-such-container-or-image")
    assert "no container or image named 'pyi-no-such-container-or-image'" in message
    assert "podman images" in message


def test_error_socket_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{tmp_path}/podman.sock")
    message = connect_error("@podman/anything")
    assert "podman API socket" in message and "does not exist" in message
    assert "podman system service" in message  # says how to start it
