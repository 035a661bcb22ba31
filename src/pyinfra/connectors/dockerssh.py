"""The ``@dockerssh`` connector: Docker containers reached over SSH, in two forms.

``@dockerssh/HOST:CONTAINER_OR_IMAGE``
    Docker runs on HOST, reached over SSH (the ``ssh_*`` data of the inventory host are
    used for HOST: ``ssh_user``, ``ssh_key``, ``ssh_port``...; ``user@HOST`` sets
    ``ssh_user``). Commands run in the container with ``docker exec`` on HOST, with the
    same lifecycle as ``@docker``: a running container is used and left running, a
    paused one unpaused and paused again, a stopped one started and stopped again, and
    an image starts a fresh container that is committed to a new image at disconnect
    (its id is logged and stored in ``host.connector_data["docker_committed_image"]``)
    and then removed. ``_timeout`` kills the command inside the container. Files stream
    through the SSH channel into ``docker exec`` (no temp file on HOST; atomic replace
    inside the container). ``dockerssh_docker_command`` names the CLI on HOST
    (default ``docker``; e.g. ``sudo -n docker`` or ``podman``).

``@dockerssh/CONTAINER``
    SSH into the container's own sshd, otherwise exactly the SSH connector. The address
    comes from the local Docker engine: a published port that is ``ssh_port`` or maps
    the container's ``ssh_port`` (default 22) is used on 127.0.0.1, else the container's
    IP address (see :mod:`.dockersshaddr`). An explicit ``ssh_hostname`` wins.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from typing_extensions import Unpack

from pyinfra.api.arguments import ConnectorArguments
from pyinfra.api.command import StringCommand
from pyinfra.api.config import Config
from pyinfra.api.exceptions import (
    AuthenticationError,
    ConnectError,
    HostKeyError,
    InventoryError,
)
from pyinfra.connectors._runner.argv import command_argv
from pyinfra.connectors._runner.loop import Process
from pyinfra.connectors.base import DataMeta
from pyinfra.connectors.docker.address import ssh_address
from pyinfra.connectors.docker.api import EngineClient, docker_endpoint, quote_path
from pyinfra.connectors.docker.connector import DOCKER_DATA_META, DockerConnectorData
from pyinfra.connectors.docker.remote import RemoteEngine
from pyinfra.connectors.execution import ExecutionConnector
from pyinfra.connectors.output import CommandOutput, OutputLine
from pyinfra.connectors.ssh.connector import SSHConnector
from pyinfra.connectors.ssh.settings import SSH_DATA_META, SSHConnectorData, SSHSettings

if TYPE_CHECKING:
    from pyinfra.api.host import Host
    from pyinfra.api.state import State


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

_USAGE = (
    "use @dockerssh/HOST:CONTAINER_OR_IMAGE (docker on HOST over SSH) or "
    "@dockerssh/CONTAINER (the container's own sshd)"
)


def _split_target(name: str) -> tuple[str, str] | None:
    """``HOST:IDENT`` (``[v6]:IDENT`` too) -> ``(HOST, IDENT)``; None without a host."""
    if name.startswith("["):
        end = name.find("]")
        if end < 0 or name[end + 1 : end + 2] != ":":
            raise InventoryError(f"@dockerssh/{name}: {_USAGE}")
        return name[1:end], name[end + 2 :]
    if ":" not in name:
        return None
    host, _, ident = name.partition(":")
    return host, ident


class DockerSSHConnector(SSHConnector):
    """Docker containers over SSH: on a remote Docker host, or through their own sshd."""

    handles_execution = True
    data_cls = DockerSSHConnectorData
    data_meta = DOCKERSSH_DATA_META

    def __init__(self, state: State, host: Host) -> None:
        super().__init__(state, host)
        self._engine: RemoteEngine | None = None
        self._ssh: SSHConnector | None = None
        self._engine_lock = threading.RLock()

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        if not name:
            raise InventoryError(f"@dockerssh needs a target: {_USAGE}")
        split = _split_target(name)
        if split is None:
            yield f"@dockerssh/{name}", {"docker_identifier": name}, []
            return
        host, ident = split
        data: dict[str, Any] = {}
        if "@" in host:
            user, _, host = host.rpartition("@")
            data["ssh_user"] = user
        if not host or not ident:
            raise InventoryError(f"@dockerssh/{name}: a host and a container are needed: {_USAGE}")
        data.update({"dockerssh_host": host, "docker_identifier": ident})
        yield f"@dockerssh/{name}", data, []

    @property
    def remote_form(self) -> bool:
        """True for ``@dockerssh/HOST:CONTAINER`` (docker on a remote host)."""
        return bool(self.data.get("dockerssh_host"))

    @property
    def identifier(self) -> str:
        ident = self.data.get("docker_container_id") or self.data.get("docker_identifier")
        if not ident:
            raise ConnectError(f"{self.host.name}: no container given: {_USAGE}")
        return str(ident)

    # -- connect / disconnect ------------------------------------------------------------

    def connect(self) -> None:
        if self.remote_form:
            self._connect_remote()
            return
        self.host.connector_data.pop("dockerssh_address", None)
        try:
            super().connect()
        except (AuthenticationError, HostKeyError):
            raise
        except ConnectError as exc:
            address = self.host.connector_data.get("dockerssh_address")
            if address is None:  # the container itself is the problem: said already
                raise
            raise type(exc)(
                f"{exc} (container {self.identifier} at {address}: does it run sshd there?)"
            ) from None

    def disconnect(self) -> None:
        if not self.remote_form:
            super().disconnect()
            return
        with self._engine_lock:
            engine, self._engine = self._engine, None
            ssh, self._ssh = self._ssh, None
        try:
            if engine is not None:
                engine.stop()
                if engine.committed_image:
                    self.host.connector_data["docker_committed_image"] = engine.committed_image
        finally:
            if ssh is not None:
                ssh.disconnect()

    def _connect_remote(self) -> None:
        with self._engine_lock:
            if self._engine is not None:
                return
            ssh = self._make_ssh()
            ssh.connect()
            engine = RemoteEngine(
                self.host.name,
                ssh,
                str(self.data.get("dockerssh_docker_command") or "docker"),
                self.identifier,
                dict(self.data),
            )
            try:
                engine.start()
            except BaseException:
                ssh.disconnect()
                raise
            self._ssh, self._engine = ssh, engine
            assert engine.container_id is not None
            self.host.connector_data["docker_container_id"] = engine.container_id

    def _make_ssh(self) -> SSHConnector:
        """A private SSH connection to the Docker host, with this host's ssh_* data.

        It has its own state and default config, so this host's _sudo/_env/... (meant
        for the container) never apply to the docker commands on the Docker host."""
        from pyinfra.api.host import Host, HostData
        from pyinfra.api.state import State

        remote = str(self.data["dockerssh_host"])
        ssh_data = {
            key: self.host.data.get(key)
            for key in SSH_DATA_META
            if self.host.data.get(key) is not None
        }
        state = State(None, Config(CONNECT_TIMEOUT=self.state.config.CONNECT_TIMEOUT))
        host = Host(remote, None, [], HostData(remote, ssh_data), SSHConnector)
        host.init(state)
        return SSHConnector(state, host)

    # -- form 2: the container's own sshd ------------------------------------------------

    def settings(self) -> SSHSettings:
        base = super().settings()
        if self.remote_form or self.data.get("ssh_hostname"):
            return base
        info = self._local_container()
        port = self.data.get("ssh_port")
        address = ssh_address(info, int(port) if port else None)
        if address is None:
            raise ConnectError(
                f"{self.host.name}: container {self.identifier} has no IP address and "
                f"publishes no port for SSH: attach it to a network or publish its sshd "
                f"port (docker run -p 2222:22 ...), or set ssh_hostname"
            )
        self.host.connector_data["docker_container_id"] = str(info.get("Id") or "")
        self.host.connector_data["dockerssh_address"] = f"{address[0]}:{address[1]}"
        return dataclasses.replace(base, hostname=address[0], port=address[1])

    def _local_container(self) -> dict[str, Any]:
        client = EngineClient(docker_endpoint())
        try:
            status, body = client.request("GET", f"/containers/{quote_path(self.identifier)}/json")
        finally:
            client.close()
        if status == 404:
            raise ConnectError(
                f"{self.host.name}: no container named {self.identifier!r} on the local docker "
                f"engine ({client.endpoint}): check `docker ps -a` (for a container on another "
                "Docker host use @dockerssh/HOST:CONTAINER)"
            )
        if status != 200:
            raise ConnectError(
                f"{self.host.name}: docker inspect {self.identifier} failed with HTTP {status}"
            )
        info: dict[str, Any] = json.loads(body)
        if not (info.get("State") or {}).get("Running"):
            raise ConnectError(
                f"{self.host.name}: container {self.identifier} is not running: start it "
                f"(docker start {self.identifier})"
            )
        return info

    # -- form 1: docker on a remote host -------------------------------------------------

    def _remote_engine(self) -> RemoteEngine:
        engine = self._engine
        if engine is None:
            self._connect_remote()
            engine = self._engine
        assert engine is not None
        return engine

    def start_process(self, command: str, get_pty: bool) -> Process:
        if not self.remote_form:
            return super().start_process(command, get_pty)
        return self._remote_engine().start_process(command_argv(command), get_pty)

    def _run(
        self,
        command: StringCommand | str,
        print_output: bool,
        print_input: bool,
        arguments: dict[str, Any],
        stdin: Any = None,
        stdout_sink: Any = None,
    ) -> tuple[bool, CommandOutput]:
        ok, output = super()._run(command, print_output, print_input, arguments, stdin, stdout_sink)
        if not ok and self.remote_form and not output.timed_out:
            note = self._failure_note(output)
            if note:
                output.combined_lines.append(OutputLine("stderr", note))
        return ok, output

    def _failure_note(self, output: CommandOutput) -> str | None:
        """Why a command failed when it was the container or the connection, not it."""
        engine, ssh = self._engine, self._ssh
        if engine is None or ssh is None:
            return None
        try:
            active = ssh.connection.active
        except ConnectError:
            active = False
        if not active:
            return f"pyinfra: the SSH connection to {engine.remote} was lost during the command"
        code = output.exit_code
        daemon = any(line.startswith("Error response from daemon") for line in output.stderr_lines)
        if daemon or code is None or code < 0 or code >= 125:
            if engine.is_running() is False:
                return (
                    f"pyinfra: container {engine.identifier} on {engine.remote} is not running "
                    "any more (it stopped during the run)"
                )
        return None

    def put_file(
        self,
        filename_or_io: str | IO[Any],
        remote_filename: str,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        if not self.remote_form:
            return super().put_file(
                filename_or_io,
                remote_filename,
                remote_temp_filename,
                print_output,
                print_input,
                **arguments,
            )
        return ExecutionConnector.put_file(
            self,
            filename_or_io,
            remote_filename,
            remote_temp_filename,
            print_output,
            print_input,
            **arguments,
        )

    def get_file(
        self,
        remote_filename: str,
        filename_or_io: str | IO[Any],
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        if not self.remote_form:
            return super().get_file(
                remote_filename,
                filename_or_io,
                remote_temp_filename,
                print_output,
                print_input,
                **arguments,
            )
        return ExecutionConnector.get_file(
            self,
            remote_filename,
            filename_or_io,
            remote_temp_filename,
            print_output,
            print_input,
            **arguments,
        )

    def forward_port(self, *args: Any, **kwargs: Any) -> Any:
        if self.remote_form:
            raise ConnectError(
                f"{self.host.name}: port forwarding is not available for "
                "@dockerssh/HOST:CONTAINER; use @dockerssh/CONTAINER or @ssh/HOST"
            )
        return super().forward_port(*args, **kwargs)


__all__ = ["DockerSSHConnector", "DockerSSHConnectorData"]
