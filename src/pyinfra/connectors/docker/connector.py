"""The ``@docker`` and ``@podman`` connectors: run commands in a container.

``@docker/NAME_OR_ID_OR_IMAGE``. The engine is reached through its HTTP API on a unix
socket (``DOCKER_HOST``, the current docker context, else ``/var/run/docker.sock``;
podman: ``CONTAINER_HOST``, else ``/run/podman/podman.sock``), one exec per command:
no ``docker`` CLI process and no extra shells. Lifecycle of the target:

* a running container is used and left running;
* a stopped container is started for the run and stopped again at disconnect (a
  paused one is unpaused and paused again); it is never removed;
* an image starts a fresh container that, at disconnect, is committed to a new image
  (its id is logged and stored in ``host.connector_data["docker_committed_image"]``)
  and then removed.

Files go through the command's stdin/stdout (atomic replace by ``mv`` inside the
container), so they are written as ``docker_user`` and honour ``_sudo``/``_su_user``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from pyinfra.api.exceptions import ConnectError, InventoryError
from pyinfra.connectors._runner.argv import command_argv
from pyinfra.connectors._runner.loop import Process
from pyinfra.connectors.base import ConnectorData, DataMeta
from pyinfra.connectors.docker.api import (
    Endpoint,
    EngineClient,
    EngineError,
    docker_endpoint,
    error_message,
    podman_endpoint,
    quote_path,
)
from pyinfra.connectors.docker.exec import ExecProcess
from pyinfra.connectors.docker.session import DriverSession, SessionUnavailable
from pyinfra.connectors.execution import ExecutionConnector
from pyinfra.connectors.output import CommandOutput

logger = logging.getLogger("pyinfra")

# Keeps a container made from an image alive (the image's entrypoint is set aside and
# restored in the committed image). It ignores SIGTERM, but such a container is
# committed (paused meanwhile) and then removed with force, never stopped.
_KEEPALIVE = ["tail", "-f", "/dev/null"]
# In a command built with a sudo password: it waits for a prompt, so needs real stdin.
_PASSWORD_MARK = "[pyinfra-sudo-"


class DockerConnectorData(ConnectorData, total=False):
    docker_identifier: str
    docker_container_id: str
    docker_user: str
    docker_platform: str
    docker_architecture: str
    docker_stop_timeout: int


DOCKER_DATA_META: dict[str, DataMeta] = {
    "docker_identifier": DataMeta("Container name or id, or an image to start a container from"),
    "docker_container_id": DataMeta("Container id to use (overrides docker_identifier)"),
    "docker_user": DataMeta("User (name or uid[:gid]) that commands run as in the container"),
    "docker_platform": DataMeta("Platform of a container started from an image: linux/arm64"),
    "docker_architecture": DataMeta("Architecture of a container started from an image"),
    "docker_stop_timeout": DataMeta("Seconds to wait when stopping a container again", 10),
}


class DockerConnector(ExecutionConnector):
    """Commands run through the Docker Engine API's exec endpoints."""

    handles_execution = True
    data_cls = DockerConnectorData
    data_meta = DOCKER_DATA_META
    engine = "docker"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client: EngineClient | None = None
        self.container_id: str | None = None
        self.mode: str | None = None  # running | stopped | paused | image
        self._created = False
        self._image_changes: list[str] = []
        self._local = threading.local()
        self._session: DriverSession | None = None
        self._session_lock = threading.Lock()
        self._session_failures = 0

    @classmethod
    def _prefix(cls) -> str:
        return f"@{cls.engine}"

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        if not name:
            raise InventoryError(
                "@docker needs a container or image: use @docker/NAME_OR_ID_OR_IMAGE"
            )
        yield f"@docker/{name}", {"docker_identifier": name}, []

    def endpoint(self) -> Endpoint:
        return docker_endpoint()

    @property
    def identifier(self) -> str:
        ident = self.data.get("docker_container_id") or self.data.get("docker_identifier")
        if not ident:
            raise ConnectError(
                f"no container or image given: use {self._prefix()}/NAME or set docker_identifier"
            )
        return str(ident)

    # Connect / disconnect ------------------------------------------------------

    def connect(self) -> None:
        if self.mode is not None:
            return
        client = EngineClient(self.endpoint())
        self.client = client
        ident = self.identifier
        try:
            info = self._inspect_container(ident)
            if info is None:
                self.container_id = self._start_from_image(ident)
                self.mode = "image"
            else:
                self.container_id = str(info["Id"])
                self.mode = self._bring_up(info)
            self._check_user()
        except EngineError as exc:
            self._abort_connect()
            raise ConnectError(f"{self.engine}: {exc}") from exc
        except BaseException:
            self._abort_connect()
            raise
        self.host.connector_data["docker_container_id"] = self.container_id

    def _inspect_container(self, ident: str) -> dict[str, Any] | None:
        assert self.client is not None
        status, data = self.client.request("GET", f"/containers/{quote_path(ident)}/json")
        if status == 404:
            return None
        if status != 200:
            raise EngineError(status, error_message(data, status))
        info: dict[str, Any] = json.loads(data)
        return info

    def _bring_up(self, info: dict[str, Any]) -> str:
        assert self.client is not None and self.container_id is not None
        state = info.get("State") or {}
        path = f"/containers/{quote_path(self.container_id)}"
        if state.get("Paused"):
            self.client.call("POST", f"{path}/unpause")
            return "paused"
        if state.get("Running"):
            return "running"
        self.client.call("POST", f"{path}/start")
        self._require_running("exited right after being started")
        return "stopped"

    def _require_running(self, what: str, settle: float = 1.0) -> None:
        """Fail if the container is not running, watching it for ``settle`` seconds: a
        container whose command ends at once must be reported now, not at the first
        command."""
        assert self.client is not None and self.container_id is not None
        deadline = time.monotonic() + settle
        while True:
            info = self.client.call("GET", f"/containers/{quote_path(self.container_id)}/json")
            state = info.get("State") or {}
            if not state.get("Running") or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if not state.get("Running"):
            raise ConnectError(
                f"container {self.identifier} {what} (status {state.get('ExitCode')}): its "
                "command must keep running, e.g. `sleep infinity`"
            )

    def _start_from_image(self, ident: str) -> str:
        assert self.client is not None
        status, data = self.client.request("GET", f"/images/{quote_path(ident)}/json")
        if status == 404:
            raise ConnectError(
                f"no container or image named {ident!r} on the {self.engine} engine at "
                f"{self.client.endpoint}: check `{self.engine} ps -a` and "
                f"`{self.engine} images` (pull the image first)"
            )
        if status != 200:
            raise EngineError(status, error_message(data, status))
        config = json.loads(data).get("Config") or {}
        # The committed image gets the source image's entrypoint and command back.
        self._image_changes = [
            f"ENTRYPOINT {json.dumps(config.get('Entrypoint') or [])}",
            f"CMD {json.dumps(config.get('Cmd') or [])}",
        ]
        platform = self.data.get("docker_platform")
        arch = self.data.get("docker_architecture")
        if not platform and arch:
            platform = f"linux/{arch}"
        created = self.client.call(
            "POST",
            "/containers/create",
            {"Image": ident, "Entrypoint": [], "Cmd": _KEEPALIVE, "Labels": {"pyinfra": "1"}},
            query={"platform": platform} if platform else None,
        )
        container_id = str(created["Id"])
        self.container_id = container_id
        self._created = True
        self.client.call("POST", f"/containers/{container_id}/start")
        self._require_running("(started from an image) exited at once", settle=0.0)
        logger.info("%s: started container %s from image %s", self.host.name, container_id, ident)
        return container_id

    def _check_user(self) -> None:
        user = self.data.get("docker_user")
        if not user:
            return
        assert self.client is not None and self.container_id is not None
        name = str(user).split(":", 1)[0]
        probe = ExecProcess(
            self.client,
            self.container_id,
            ["sh", "-c", 'id -u -- "$1" >/dev/null 2>&1 || exit 3', "pyinfra", name],
            user="0",
        )
        probe.close_stdin()
        while probe.read_stdout():
            pass
        code = probe.wait(30)
        probe.close()
        if code == 3 and not name.isdigit():
            raise ConnectError(
                f"docker_user {name!r} does not exist in container {self.identifier}: "
                "create it (useradd) or change docker_user"
            )

    def _abort_connect(self) -> None:
        """Undo a half-done connect: remove a container we created, restore the state."""
        client = self.client
        if client is not None and self._created and self.container_id:
            client.request("DELETE", f"/containers/{self.container_id}", query={"force": "true"})
            self.mode = None
        if self.mode is not None:
            self.disconnect()
        if client is not None:
            client.close()
        self.client = None
        self.container_id = None
        self.mode = None
        self._created = False

    def disconnect(self) -> None:
        mode, self.mode = self.mode, None
        client = self.client
        if mode is None or client is None or self.container_id is None:
            return
        self._close_session()
        path = f"/containers/{quote_path(self.container_id)}"
        try:
            if mode == "paused":
                client.call("POST", f"{path}/pause", ok=(204, 409))
            elif mode == "stopped":
                timeout = int(self.data.get("docker_stop_timeout") or 10)
                client.call("POST", f"{path}/stop", query={"t": timeout}, ok=(204, 304, 404))
            elif mode == "image":
                self._commit_and_remove(client, path)
        except EngineError as exc:
            raise ConnectError(f"{self.engine}: disconnect from {self.identifier}: {exc}") from exc
        finally:
            client.close()
            self.client = None
            self._created = False

    def _commit_and_remove(self, client: EngineClient, path: str) -> None:
        assert self.container_id is not None
        try:
            result = client.call(
                "POST",
                "/commit",
                {},
                query={
                    "container": self.container_id,
                    "comment": f"pyinfra run on {self.identifier}",
                    "changes": self._image_changes,
                },
            )
            image_id = str(result.get("Id") or result.get("id") or "")
            self.host.connector_data["docker_committed_image"] = image_id
            logger.info(
                "%s: committed container %s to image %s",
                self.host.name,
                self.container_id[:12],
                image_id,
            )
        finally:
            client.call("DELETE", path, query={"force": "true", "v": "true"}, ok=(204, 404))

    # Execution ---------------------------------------------------------------

    def _run(
        self,
        command: Any,
        print_output: bool,
        print_input: bool,
        arguments: dict[str, Any],
        stdin: Any = None,
        stdout_sink: Any = None,
    ) -> tuple[bool, CommandOutput]:
        # Commands fed on stdin need an exec of their own (the session's stdin is its
        # command channel); remember that for start_process.
        has_input = stdin is not None or arguments.get("_stdin") is not None
        if not has_input and "_stdin" not in arguments:
            has_input = self._resolve({}).get("_stdin") is not None
        self._local.has_input = has_input
        try:
            return super()._run(command, print_output, print_input, arguments, stdin, stdout_sink)
        finally:
            self._local.has_input = False

    def start_process(self, command: str, get_pty: bool) -> Process:
        if self.client is None or self.container_id is None:
            self.connect()
        assert self.client is not None and self.container_id is not None
        user = self.data.get("docker_user")
        argv = command_argv(command)
        needs_exec = (
            get_pty or getattr(self._local, "has_input", False) or _PASSWORD_MARK in command
        )
        if not needs_exec:
            session = self._get_session()
            started = session.try_start(argv) if session is not None else None
            if started is not None:
                return started
        try:
            return ExecProcess(
                self.client,
                self.container_id,
                argv,
                tty=get_pty,
                user=str(user) if user else None,
                on_dead=self._dead_message,
            )
        except EngineError as exc:
            if exc.status in (404, 409):
                raise ConnectError(
                    f"{self.host.name}: container {self.identifier} is not running any more "
                    f"({exc}); it exited during the run"
                ) from exc
            raise ConnectError(f"{self.host.name}: {self.engine} exec failed: {exc}") from exc

    def _get_session(self) -> DriverSession | None:
        """The command session, started on first use; None where it cannot run."""
        with self._session_lock:
            session = self._session
            if session is not None and not session.broken:
                return session
            if session is not None:
                session.close()
                self._session = None
            if self._session_failures >= 3:
                return None
            assert self.client is not None and self.container_id is not None
            user = self.data.get("docker_user")
            try:
                self._session = DriverSession(
                    self.client,
                    self.container_id,
                    str(user) if user else None,
                    on_dead=self._dead_message,
                )
            except (SessionUnavailable, ConnectError, OSError):
                self._session_failures += 1
                return None
            return self._session

    def _close_session(self) -> None:
        with self._session_lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def _dead_message(self, settle: float = 0.0) -> str | None:
        """Why a command's stream ended abnormally, when it is because the container
        stopped. ``settle``: seconds to wait for the engine to record the stop (the
        stream can end a moment before the container's state changes)."""
        if self.client is None or self.container_id is None:
            return None
        deadline = time.monotonic() + settle
        while True:
            try:
                status, data = self.client.request("GET", f"/containers/{self.container_id}/json")
            except ConnectError:
                return None
            if status == 404:
                return f"pyinfra: container {self.identifier} was removed during the command"
            state = (json.loads(data).get("State") or {}) if status == 200 else {}
            if not state.get("Running"):
                break
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)
        return (
            f"pyinfra: container {self.identifier} stopped during the command "
            f"(container exit status {state.get('ExitCode')})"
        )


class PodmanConnector(DockerConnector):
    """``@podman/NAME_OR_ID_OR_IMAGE``: the same, through podman's Docker-compatible API."""

    engine = "podman"

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        if not name:
            raise InventoryError(
                "@podman needs a container or image: use @podman/NAME_OR_ID_OR_IMAGE"
            )
        yield f"@podman/{name}", {"docker_identifier": name}, []

    def endpoint(self) -> Endpoint:
        return podman_endpoint()


__all__ = ["DockerConnector", "PodmanConnector", "DockerConnectorData"]
