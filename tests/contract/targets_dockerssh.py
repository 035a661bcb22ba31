"""The @dockerssh connector in the contract suite, both forms, against real components.

* ``dockerssh-remote``: ``@dockerssh/127.0.0.1:CONTAINER``: this machine is the Docker
  host, reached over a real sshd (tests/targets/dockerssh.py) as a user in the docker
  group; the container (of the sshd image: it has sudo) is left running.
* ``dockerssh-remote-image``: ``@dockerssh/127.0.0.1:IMAGE``: every connection starts a
  fresh container that is committed to a new image at disconnect; that image is removed
  after each use.
* ``dockerssh-sshd``: ``@dockerssh/CONTAINER``: the container's own sshd, through the
  port it publishes on 127.0.0.1, as user ``pyi`` (NOPASSWD sudo), host key checked.

``process_exists`` looks inside the container. The sshd and the containers are started
on first use and stopped/removed when the test process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pyinfra.api.host import Host
from tests.contract.targets import ContractTarget
from tests.targets import dockerssh, engines

_shared: dict[str, Any] = {}


def _unavailable() -> str | None:
    reason = dockerssh.unavailable()
    if reason and os.environ.get("CI") == "true":
        raise RuntimeError(reason)  # in CI every component must be there
    return reason


def _docker_host() -> dockerssh.DockerHostSSH:
    """The sshd shared by the form-1 targets (started once, stopped at exit)."""
    env = _shared.get("env")
    if env is None:
        env = dockerssh.DockerHostSSH().start()
        atexit.register(env.stop)
        _shared["env"] = env
    return env  # type: ignore[no-any-return]


@dataclass
class DockerSSHTarget(ContractTarget):
    image_form: bool = False
    current: dict[str, str] = field(default_factory=dict)

    @contextlib.contextmanager
    def host(self) -> Iterator[Host]:
        with super().host() as h:
            self.current["container"] = h.connector_data["docker_container_id"]
            try:
                yield h
            finally:
                if self.image_form:
                    h.disconnect()
                    committed = h.connector_data.get("docker_committed_image")
                    if committed:
                        engines.remove_image("docker", committed)

    def in_container(self, text: str) -> bool:
        return engines.container_process_exists("docker", self.current["container"], text)


def _remote_running() -> DockerSSHTarget:
    target = DockerSSHTarget("dockerssh-remote", "", unavailable=_unavailable)

    def setup() -> None:
        env = _docker_host()
        name = engines.run_container("docker", engines.SSHD_IMAGE)
        atexit.register(engines.remove_container, "docker", name)
        target.inventory_name = f"@dockerssh/127.0.0.1:{name}"
        target.data.update(env.data())

    target.setup = setup
    target.process_exists = target.in_container
    return target


def _remote_image() -> DockerSSHTarget:
    target = DockerSSHTarget(
        "dockerssh-remote-image",
        f"@dockerssh/127.0.0.1:{engines.SSHD_IMAGE}",
        unavailable=_unavailable,
        image_form=True,
    )

    def setup() -> None:
        target.data.update(_docker_host().data())

    target.setup = setup
    target.process_exists = target.in_container
    return target


def _own_sshd() -> DockerSSHTarget:
    target = DockerSSHTarget("dockerssh-sshd", "", unavailable=_unavailable)

    def setup() -> None:
        import tempfile
        from pathlib import Path

        from tests.targets.sshd import generate_client_key

        folder = Path(tempfile.mkdtemp(prefix="pyi-dockerssh-contract-"))
        atexit.register(__import__("shutil").rmtree, folder, True)
        key = generate_client_key(folder)
        name = dockerssh.sshd_container(key.with_name(key.name + ".pub"), publish="127.0.0.1::22")
        atexit.register(engines.remove_container, "docker", name)
        port = dockerssh.published_port(name)
        dockerssh.wait_for_sshd("127.0.0.1", port)
        known = dockerssh.container_known_hosts(name, folder / "known_hosts", "127.0.0.1", port)
        target.inventory_name = f"@dockerssh/{name}"
        target.data.update(dockerssh.container_data(key, known))

    target.setup = setup
    target.process_exists = target.in_container
    return target


def make_targets() -> list[ContractTarget]:
    return [_remote_running(), _remote_image(), _own_sshd()]
