"""The @dockerssh connector in the contract suite, both forms, against real components.

* ``dockerssh-remote``: ``@dockerssh/127.0.0.1:CONTAINER``: this machine is the Docker
  host, reached over a real sshd (tests/helpers/dockerssh.py) as a user in the docker
  group; the container (of the sshd image: it has sudo) is left running.
* ``dockerssh-remote-image``: ``@dockerssh/127.0.0.1:IMAGE``: every connection starts a
  fresh container that is committed to a new image at disconnect; that image is removed
  after each use.
* ``dockerssh-sshd``: ``@dockerssh/CONTAINER``: the container's own sshd, through the
  port it publishes on 127.0.0.1, as user ``pyi`` (NOPASSWD sudo), host key checked.
* ``podmanssh-remote``: ``@podmanssh/127.0.0.1:CONTAINER``: this machine's podman over
  the same sshd (as a user who runs it through ``sudo -n``); a running container of the
  base image (no sudo inside), left running.

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
from uuid import uuid4

from pyinfra.api.host import Host
from tests.contract.targets import ALL_CAPABILITIES, ContractTarget, collect_committed_images
from tests.helpers import dockerssh, engines

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
    return env


@dataclass
class DockerSSHTarget(ContractTarget):
    image_form: bool = False
    engine: str = "docker"
    current: dict[str, str] = field(default_factory=dict)

    @contextlib.contextmanager
    def host(self) -> Iterator[Host]:
        with super().host() as h:
            self.current["container"] = h.connector_data["docker_container_id"]
            committed = collect_committed_images(h)
            try:
                yield h
            finally:
                h.disconnect()
                for image in committed:
                    engines.remove_image(self.engine, image)

    def in_container(self, text: str) -> bool:
        return engines.container_process_exists(self.engine, self.current["container"], text)


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

        from tests.helpers.sshd import generate_client_key

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


def _podman_unavailable() -> str | None:
    reason = dockerssh.unavailable() or engines.ensure_podman()
    if reason and os.environ.get("CI") == "true":
        raise RuntimeError(reason)
    return reason


def _podman_remote() -> DockerSSHTarget:
    target = DockerSSHTarget(
        "podmanssh-remote",
        "",
        capabilities=ALL_CAPABILITIES - {"sudo"},
        unavailable=_podman_unavailable,
        engine="podman",
        deploys=False,  # the deploy tests run over dockerssh-remote: the same engine code
    )

    def setup() -> None:
        env = _docker_host()
        name = engines.run_container(
            "podman", engines.BASE_IMAGE, name=f"pyi-conn-{uuid4().hex[:8]}"
        )
        atexit.register(engines.remove_container, "podman", name)
        target.inventory_name = f"@podmanssh/127.0.0.1:{name}"
        target.data.update(
            env.data(dockerssh.PODMAN_USER),
            dockerssh_docker_command=dockerssh.PODMAN_COMMAND,
        )

    target.setup = setup
    target.process_exists = target.in_container
    return target


def make_targets() -> list[ContractTarget]:
    return [_remote_running(), _remote_image(), _own_sshd(), _podman_remote()]
