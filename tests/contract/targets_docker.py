"""Contract targets for the container and chroot connectors (real dockerd, podman, chroot).

* ``docker``: a running container of the sshd image (it has sudo), left running.
* ``docker-image``: ``@docker/IMAGE``: every connection starts a fresh container that is
  committed to a new image at disconnect; that image is removed after each use.
* ``podman``: a running podman container of the base image (no sudo inside).
* ``chroot``: a private copy of the debootstrap tree.

The containers and the copy are made on first use and removed when the test process
exits. ``process_exists`` looks inside the container / at processes rooted in the tree.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pyinfra.api.host import Host
from tests.contract.targets import ALL_CAPABILITIES, ContractTarget, collect_committed_images
from tests.helpers import engines

NO_SUDO = ALL_CAPABILITIES - {"sudo"}


@dataclass
class ContainerTarget(ContractTarget):
    engine: str = "docker"
    image: str = engines.SSHD_IMAGE
    image_form: bool = False
    ensure: object = None  # () -> skip reason or None
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

    def container_process_exists(self, text: str) -> bool:
        return engines.container_process_exists(self.engine, self.current["container"], text)


def _unavailable(ensure: object) -> object:
    def check() -> str | None:
        reason = ensure() if callable(ensure) else None
        if reason and os.environ.get("CI") == "true":
            raise RuntimeError(reason)  # in CI every engine must be there
        return reason

    return check


def _docker_running() -> ContainerTarget:
    target = ContainerTarget("docker", "", capabilities=ALL_CAPABILITIES)
    target.unavailable = _unavailable(engines.ensure_sshd_image)  # type: ignore[assignment]

    def setup() -> None:
        name = engines.run_container("docker", engines.SSHD_IMAGE)
        atexit.register(engines.remove_container, "docker", name)
        target.inventory_name = f"@docker/{name}"

    target.setup = setup
    target.process_exists = target.container_process_exists
    return target


def _docker_image() -> ContainerTarget:
    target = ContainerTarget(
        "docker-image",
        f"@docker/{engines.SSHD_IMAGE}",
        capabilities=ALL_CAPABILITIES,
        image_form=True,
    )
    target.unavailable = _unavailable(engines.ensure_sshd_image)  # type: ignore[assignment]
    target.process_exists = target.container_process_exists
    return target


def _podman_running() -> ContainerTarget:
    target = ContainerTarget("podman", "", capabilities=NO_SUDO, engine="podman")
    target.unavailable = _unavailable(engines.ensure_podman)  # type: ignore[assignment]

    def setup() -> None:
        name = engines.run_container("podman", engines.BASE_IMAGE)
        atexit.register(engines.remove_container, "podman", name)
        target.inventory_name = f"@podman/{name}"

    target.setup = setup
    target.process_exists = target.container_process_exists
    return target


def _chroot() -> ContractTarget:
    holder: dict[str, Path] = {}

    def setup() -> None:
        base = Path(tempfile.mkdtemp(prefix="pyi-chroot-contract-"))
        root = base / "root"
        subprocess.run(["cp", "-a", str(engines.rootfs_dir()), str(root)], check=True)
        atexit.register(shutil.rmtree, base, True)
        holder["root"] = root
        target.inventory_name = f"@chroot/{root}"

    def exists(text: str) -> bool:
        return engines.chroot_process_exists(holder["root"], text)

    target = ContractTarget(
        "chroot",
        "",
        capabilities=NO_SUDO,
        process_exists=exists,
        unavailable=_unavailable(engines.ensure_rootfs),  # type: ignore[arg-type]
        setup=setup,
    )
    return target


def make_targets() -> list[ContractTarget]:
    return [_docker_running(), _docker_image(), _podman_running(), _chroot()]
