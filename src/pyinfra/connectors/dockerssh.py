"""``@dockerssh`` and ``@podmanssh``: containers reached over SSH, in two forms.

``@dockerssh/HOST:CONTAINER_OR_IMAGE`` (and ``@podmanssh/HOST:CONTAINER_OR_IMAGE``)
    The engine runs on HOST, reached over SSH (the ``ssh_*`` data of the inventory host
    are used for HOST: ``ssh_user``, ``ssh_key``, ``ssh_port``...; ``user@HOST`` sets
    ``ssh_user``). The connector holds an SSH connection to HOST and the engine's CLI
    over it (:class:`~pyinfra.connectors.docker.remote.CliEngine`); commands run in the
    container with ``docker exec`` (``podman exec``) on HOST, with the same lifecycle as
    ``@docker`` (:mod:`pyinfra.connectors.docker.lifecycle`): a running container is used
    and left running, a paused one unpaused and paused again, a stopped one started and
    stopped again, and an image starts a fresh container that is committed to a new
    image at disconnect (its id is logged and stored in
    ``host.connector_data["docker_committed_image"]``) and then removed. ``_timeout``
    kills the command inside the container. Files stream through the SSH channel into
    ``docker exec`` (no temp file on HOST; atomic replace inside the container).
    ``dockerssh_docker_command`` names the CLI on HOST (default ``docker``, ``podman``
    for ``@podmanssh``; e.g. ``sudo -n docker``). Escalation arguments (``--sudo``)
    apply in the container, never to the CLI on HOST.

``@dockerssh/CONTAINER``
    SSH into the container's own sshd: the connector holds an SSH connector for this
    host, aimed at the container's address. The address comes from the local Docker
    engine: a published port that is ``ssh_port`` or maps the container's ``ssh_port``
    (default 22) is used on 127.0.0.1, else the container's IP address (see
    :mod:`pyinfra.connectors.docker.address`). An explicit ``ssh_hostname`` wins.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import IO, Any, Protocol

from pyinfra.api.arguments import ResolvedArguments
from pyinfra.api.exceptions import (
    AuthenticationError,
    ConnectError,
    HostKeyError,
    InventoryError,
)
from pyinfra.connectors._runner.process import Process
from pyinfra.connectors._runner.request import ProcessRequest
from pyinfra.connectors.base import DataMeta
from pyinfra.connectors.docker.address import ssh_address
from pyinfra.connectors.docker.api import EngineClient, docker_endpoint
from pyinfra.connectors.docker.connector import (
    DOCKER_DATA_META,
    DockerConnectorData,
    container_identifier,
)
from pyinfra.connectors.docker.engine import ApiEngine
from pyinfra.connectors.docker.lifecycle import ContainerLifecycle
from pyinfra.connectors.docker.remote import CliEngine
from pyinfra.connectors.execution import ExecutionConnector
from pyinfra.connectors.ssh.connect import SSHConnection, open_connection
from pyinfra.connectors.ssh.connector import SSHConnector
from pyinfra.connectors.ssh.forward import PortForward
from pyinfra.connectors.ssh.settings import SSH_DATA_META, SSHConnectorData, resolve_settings


class DockerSSHConnectorData(SSHConnectorData, DockerConnectorData, total=False):
    dockerssh_host: str
    dockerssh_docker_command: str


DOCKERSSH_DATA_META: dict[str, DataMeta] = {
    **SSH_DATA_META,
    **DOCKER_DATA_META,
    "dockerssh_host": DataMeta("The Docker host to SSH to (set by @dockerssh/HOST:CONTAINER)"),
    "dockerssh_docker_command": DataMeta(
        "The container engine CLI on the Docker host (e.g. 'sudo -n docker', 'podman')",
        "docker",
    ),
}


def _split_target(prefix: str, usage: str, name: str) -> tuple[str, str] | None:
    """``HOST:IDENT`` (``[v6]:IDENT`` too) -> ``(HOST, IDENT)``; None without a host."""
    if name.startswith("["):
        end = name.find("]")
        if end < 0 or name[end + 1 : end + 2] != ":":
            raise InventoryError(f"{prefix}/{name}: {usage}")
        return name[1:end], name[end + 2 :]
    if ":" not in name:
        return None
    host, _, ident = name.partition(":")
    return host, ident


class _Target(Protocol):
    """How a ``@dockerssh`` host is reached once connected (one of the two forms)."""

    def start_process(self, request: ProcessRequest) -> Process: ...

    def native_put_file(
        self, filename_or_io: str | IO[Any], remote_filename: str, arguments: ResolvedArguments
    ) -> bool: ...

    def native_get_file(
        self, remote_filename: str, filename_or_io: str | IO[Any], arguments: ResolvedArguments
    ) -> bool: ...

    def forward_port(
        self, remote_host: str, remote_port: int, local_port: int, local_host: str
    ) -> PortForward: ...

    def close(self) -> str | None:
        """Disconnect; the id of the image a container was committed to, if any."""


class _RemoteContainer:
    """Form 1: an SSH connection to the engine's host, the engine's CLI over it and the
    container's lifecycle on that engine."""

    def __init__(self, connector: DockerSSHConnector) -> None:
        data = connector.data
        remote = str(data["dockerssh_host"])
        ssh_data = {key: data.get(key) for key in SSH_DATA_META}
        timeout = float(connector.state.config.CONNECT_TIMEOUT)
        self.connection: SSHConnection = open_connection(
            resolve_settings(remote, ssh_data, timeout)
        )
        try:
            self.engine = CliEngine(
                self.connection, str(data.get("dockerssh_docker_command") or connector.cli)
            )
            self.lifecycle = ContainerLifecycle(
                self.engine, connector.identifier, data, connector.host.name
            )
            self.lifecycle.up()
        except BaseException:
            self.connection.close()
            raise
        self.user: str | None = str(data["docker_user"]) if data.get("docker_user") else None
        self.name = connector.host.name

    def start_process(self, request: ProcessRequest) -> Process:
        return self.engine.start_process(self.lifecycle, request, self.user)

    def native_put_file(self, *args: Any) -> bool:
        return False  # streamed through docker exec

    def native_get_file(self, *args: Any) -> bool:
        return False

    def forward_port(self, *args: Any) -> PortForward:
        raise ConnectError(
            f"{self.name}: port forwarding is not available for "
            "@dockerssh/HOST:CONTAINER; use @dockerssh/CONTAINER or @ssh/HOST"
        )

    def close(self) -> str | None:
        try:
            return self.lifecycle.down()
        finally:
            self.connection.close()


class _ContainerSSHD:
    """Form 2: the SSH connector of this host, aimed at the container's own sshd."""

    def __init__(self, connector: DockerSSHConnector) -> None:
        host = connector.host
        host.connector_data.pop("dockerssh_address", None)
        settings = SSHConnector(connector.state, host).settings()
        if not connector.data.get("ssh_hostname"):
            info = self._local_container(connector)
            port = connector.data.get("ssh_port")
            address = ssh_address(info, int(port) if port else None)
            if address is None:
                raise ConnectError(
                    f"{host.name}: container {connector.identifier} has no IP address and "
                    f"publishes no port for SSH: attach it to a network or publish its sshd "
                    f"port (docker run -p 2222:22 ...), or set ssh_hostname"
                )
            host.connector_data["docker_container_id"] = str(info.get("Id") or "")
            host.connector_data["dockerssh_address"] = f"{address[0]}:{address[1]}"
            settings = dataclasses.replace(settings, hostname=address[0], port=address[1])
        self.ssh = SSHConnector(connector.state, host, settings=settings)
        try:
            self.ssh.connect()
        except (AuthenticationError, HostKeyError):
            raise
        except ConnectError as exc:
            address_text = host.connector_data.get("dockerssh_address")
            if address_text is None:  # the container itself is the problem: said already
                raise
            raise type(exc)(
                f"{exc} (container {connector.identifier} at {address_text}: does it run "
                "sshd there?)"
            ) from None

    @staticmethod
    def _local_container(connector: DockerSSHConnector) -> dict[str, Any]:
        name, ident = connector.host.name, connector.identifier
        client = EngineClient(docker_endpoint())
        try:
            info = ApiEngine(client).inspect_container(ident)
        finally:
            client.close()
        if info is None:
            raise ConnectError(
                f"{name}: no container named {ident!r} on the local docker engine "
                f"({client.endpoint}): check `docker ps -a` (for a container on another "
                "Docker host use @dockerssh/HOST:CONTAINER)"
            )
        if not (info.get("State") or {}).get("Running"):
            raise ConnectError(
                f"{name}: container {ident} is not running: start it (docker start {ident})"
            )
        return info

    def start_process(self, request: ProcessRequest) -> Process:
        return self.ssh.start_process(request)

    def native_put_file(
        self, filename_or_io: str | IO[Any], remote_filename: str, arguments: ResolvedArguments
    ) -> bool:
        return self.ssh.native_put_file(filename_or_io, remote_filename, arguments)

    def native_get_file(
        self, remote_filename: str, filename_or_io: str | IO[Any], arguments: ResolvedArguments
    ) -> bool:
        return self.ssh.native_get_file(remote_filename, filename_or_io, arguments)

    def forward_port(
        self, remote_host: str, remote_port: int, local_port: int, local_host: str
    ) -> PortForward:
        return self.ssh.forward_port(remote_host, remote_port, local_port, local_host)

    def close(self) -> str | None:
        self.ssh.disconnect()
        return None


# How long disconnect() waits for the commands and transfers it stops.
_STOP_WAIT = 5.0


class DockerSSHConnector(ExecutionConnector):
    """Docker containers over SSH: on a remote Docker host, or through their own sshd."""

    handles_execution = True
    data_cls = DockerSSHConnectorData
    data_meta = DOCKERSSH_DATA_META
    prefix = "@dockerssh"
    cli = "docker"  # the engine's CLI on a remote host, unless dockerssh_docker_command
    usage = (
        "use @dockerssh/HOST:CONTAINER_OR_IMAGE (docker on HOST over SSH) or "
        "@dockerssh/CONTAINER (the container's own sshd)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._target: _Target | None = None
        self._lock = threading.RLock()

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        return DockerSSHConnector._names(name)

    @classmethod
    def _names(cls, name: str | None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        if not name:
            raise InventoryError(f"{cls.prefix} needs a target: {cls.usage}")
        split = _split_target(cls.prefix, cls.usage, name)
        if split is None:
            yield from cls._own_sshd_names(name)
            return
        host, ident = split
        data: dict[str, Any] = {}
        if "@" in host:
            user, _, host = host.rpartition("@")
            data["ssh_user"] = user
        if not host or not ident:
            raise InventoryError(
                f"{cls.prefix}/{name}: a host and a container are needed: {cls.usage}"
            )
        data.update({"dockerssh_host": host, "docker_identifier": ident})
        yield f"{cls.prefix}/{name}", data, []

    @classmethod
    def _own_sshd_names(cls, name: str) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        yield f"{cls.prefix}/{name}", {"docker_identifier": name}, []

    @property
    def remote_form(self) -> bool:
        """True for ``HOST:CONTAINER`` (the engine on a remote host)."""
        return bool(self.data.get("dockerssh_host"))

    @property
    def identifier(self) -> str:
        try:
            return container_identifier(self.data, self.usage)
        except ConnectError:
            raise ConnectError(f"{self.host.name}: no container given: {self.usage}") from None

    # -- connect / disconnect ------------------------------------------------------------

    def connect(self) -> None:
        with self._lock:
            if self._target is not None:
                return
            target: _Target = _RemoteContainer(self) if self.remote_form else _ContainerSSHD(self)
            self._target = target
            if isinstance(target, _RemoteContainer):
                assert target.lifecycle.container_id is not None
                self.host.connector_data["docker_container_id"] = target.lifecycle.container_id

    def disconnect(self) -> None:
        if self._target is not None:
            # commands and transfers in flight end (and remove their temps) first
            self.stop_activity(_STOP_WAIT)
        with self._lock:
            target, self._target = self._target, None
        if target is not None:
            committed = target.close()
            if committed:
                self.host.connector_data["docker_committed_image"] = committed

    def _connected(self) -> _Target:
        if self._target is None:
            self.connect()
        assert self._target is not None
        return self._target

    # -- commands and files --------------------------------------------------------------

    def start_process(self, request: ProcessRequest) -> Process:
        return self._connected().start_process(request)

    def native_put_file(
        self, filename_or_io: str | IO[Any], remote_filename: str, arguments: ResolvedArguments
    ) -> bool:
        return self._connected().native_put_file(filename_or_io, remote_filename, arguments)

    def native_get_file(
        self, remote_filename: str, filename_or_io: str | IO[Any], arguments: ResolvedArguments
    ) -> bool:
        return self._connected().native_get_file(remote_filename, filename_or_io, arguments)

    def forward_port(
        self,
        remote_host: str,
        remote_port: int,
        local_port: int = 0,
        local_host: str = "127.0.0.1",
    ) -> PortForward:
        """Port forwarding through the container's own sshd (``@dockerssh/CONTAINER``)."""
        return self._connected().forward_port(remote_host, remote_port, local_port, local_host)


class PodmanSSHConnector(DockerSSHConnector):
    """``@podmanssh/HOST:CONTAINER_OR_IMAGE``: podman on a remote host, over SSH."""

    prefix = "@podmanssh"
    cli = "podman"
    usage = "use @podmanssh/HOST:CONTAINER_OR_IMAGE (podman on HOST over SSH)"
    data_meta = {
        **DOCKERSSH_DATA_META,
        "dockerssh_docker_command": DataMeta(
            "The container engine CLI on the podman host (e.g. 'sudo -n podman')", "podman"
        ),
    }

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        return PodmanSSHConnector._names(name)

    @classmethod
    def _own_sshd_names(cls, name: str) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        raise InventoryError(f"{cls.prefix}/{name}: a host and a container are needed: {cls.usage}")


__all__ = [
    "DockerSSHConnector",
    "DockerSSHConnectorData",
    "PodmanSSHConnector",
]
