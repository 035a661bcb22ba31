"""The ``@docker`` and ``@podman`` connectors: run commands in a container.

``@docker/NAME_OR_ID_OR_IMAGE``. The engine is reached through its HTTP API on a unix
socket (``DOCKER_HOST``, the current docker context, else ``/var/run/docker.sock``;
podman: ``CONTAINER_HOST``, else ``/run/podman/podman.sock``), one exec per command:
no ``docker`` CLI process and no extra shells. The container's lifecycle is
:mod:`.lifecycle`'s: a running container is used and left running; a stopped (paused)
one is started (unpaused) for the run and stopped (paused) again at disconnect; an
image starts a fresh container that is committed to a new image at disconnect (its id
is logged and stored in ``host.connector_data["docker_committed_image"]``) and removed.

Commands that need no stdin, terminal or password prompt go through one persistent
session exec (:mod:`.session`); the others get an exec of their own (:mod:`.exec`).
Files go through the command's stdin/stdout (atomic replace by ``mv`` inside the
container), so they are written as ``docker_user`` and honour ``_sudo``/``_su_user``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from pyinfra.api.exceptions import ConnectError, InventoryError
from pyinfra.connectors._runner.process import Process
from pyinfra.connectors._runner.request import ProcessRequest
from pyinfra.connectors.base import ConnectorData, DataMeta
from pyinfra.connectors.docker.api import (
    Endpoint,
    EngineClient,
    EngineError,
    docker_endpoint,
    podman_endpoint,
)
from pyinfra.connectors.docker.engine import ApiEngine
from pyinfra.connectors.docker.exec import ExecProcess
from pyinfra.connectors.docker.lifecycle import ContainerLifecycle
from pyinfra.connectors.docker.session import DriverSession, SessionUnavailable
from pyinfra.connectors.execution import ExecutionConnector
from pyinfra.connectors.output import Failure


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


def container_identifier(data: Any, usage: str) -> str:
    """The container (or image) the data names; ``ConnectError`` with ``usage`` if none."""
    ident = data.get("docker_container_id") or data.get("docker_identifier")
    if not ident:
        raise ConnectError(f"no container or image given: {usage}")
    return str(ident)


# How long disconnect() waits for the commands and transfers it stops.
_STOP_WAIT = 5.0


class DockerConnector(ExecutionConnector):
    """Commands run through the Docker Engine API's exec endpoints."""

    handles_execution = True
    data_cls = DockerConnectorData
    data_meta = DOCKER_DATA_META
    engine = "docker"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client: EngineClient | None = None
        self.lifecycle: ContainerLifecycle | None = None
        self._session: DriverSession | None = None
        self._session_lock = threading.Lock()
        self._session_failures = 0

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
        return container_identifier(self.data, f"use @{self.engine}/NAME or set docker_identifier")

    @property
    def container_id(self) -> str | None:
        return self.lifecycle.container_id if self.lifecycle is not None else None

    # Connect / disconnect ------------------------------------------------------

    def connect(self) -> None:
        if self.lifecycle is not None:
            return
        ident = self.identifier
        client = EngineClient(self.endpoint())
        lifecycle = ContainerLifecycle(ApiEngine(client), ident, self.data, self.host.name)
        try:
            container_id = lifecycle.up()
        except EngineError as exc:
            client.close()
            raise ConnectError(f"{self.engine}: {exc}") from exc
        except BaseException:
            client.close()
            raise
        self.client, self.lifecycle = client, lifecycle
        self.host.connector_data["docker_container_id"] = container_id

    def disconnect(self) -> None:
        if self.lifecycle is not None:
            # commands and transfers in flight end (and remove their temps) first
            self.stop_activity(_STOP_WAIT)
        lifecycle, self.lifecycle = self.lifecycle, None
        client, self.client = self.client, None
        if lifecycle is None or client is None:
            return
        self._close_session()
        try:
            committed = lifecycle.down()
            if committed is not None:
                self.host.connector_data["docker_committed_image"] = committed
        except EngineError as exc:
            raise ConnectError(f"{self.engine}: disconnect from {self.identifier}: {exc}") from exc
        finally:
            client.close()

    # Execution ---------------------------------------------------------------

    def start_process(self, request: ProcessRequest) -> Process:
        if self.lifecycle is None:
            self.connect()
        client, container_id = self.client, self.container_id
        assert client is not None and container_id is not None
        user = self.data.get("docker_user")
        # The session's stdin is its command channel: commands with input, a terminal
        # or a password prompt get an exec of their own.
        if not (request.pty or request.has_input or request.prompts):
            session = self._get_session(client, container_id)
            started = session.try_start(request.argv) if session is not None else None
            if started is not None:
                return started
        try:
            return ExecProcess(
                client,
                container_id,
                request.argv,
                tty=request.pty,
                user=str(user) if user else None,
                on_dead=self._gone,
            )
        except EngineError as exc:
            if exc.status in (404, 409):
                raise ConnectError(
                    f"{self.host.name}: container {self.identifier} is not running any more "
                    f"({exc}); it exited during the run"
                ) from exc
            raise ConnectError(f"{self.host.name}: {self.engine} exec failed: {exc}") from exc

    def _get_session(self, client: EngineClient, container_id: str) -> DriverSession | None:
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
            user = self.data.get("docker_user")
            try:
                self._session = DriverSession(
                    client, container_id, str(user) if user else None, on_dead=self._gone
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

    def _gone(self, settle: float = 0.0) -> Failure | None:
        lifecycle = self.lifecycle
        return lifecycle.gone(settle) if lifecycle is not None else None


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
