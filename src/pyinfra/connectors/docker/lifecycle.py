"""The lifecycle of the container a run works in, written once for every engine.

:class:`Engine` is what a container engine offers for it; the Engine API on a local
socket (:class:`~pyinfra.connectors.docker.api.ApiEngine`) and the docker CLI on another
machine over SSH (:class:`~pyinfra.connectors.docker.remote.CliEngine`) implement it.
:class:`ContainerLifecycle` applies the rules:

* a running container is used and left running;
* a paused one is unpaused for the run and paused again afterwards;
* a stopped one is started for the run and stopped again afterwards (never removed);
* an image starts a fresh container (its entrypoint set aside, a keep-alive command
  instead) that is committed to a new image afterwards, with the image's entrypoint and
  command restored, and then removed.

A connect that fails half-way undoes what it did (a container it created is removed,
a state it changed restored).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from pyinfra.api.exceptions import ConnectError
from pyinfra.connectors.output import TARGET_GONE, Failure

logger = logging.getLogger("pyinfra")

# Keeps a container made from an image alive (the image's entrypoint is set aside and
# restored in the committed image). It ignores SIGTERM, but such a container is
# committed and then removed with force, never stopped.
KEEPALIVE = ["tail", "-f", "/dev/null"]


class Engine(Protocol):
    """One container engine, as the lifecycle needs it. Failures raise ``ConnectError``
    with a one-line message."""

    name: str  # the engine's CLI name, for hints: "docker" or "podman"
    where: str  # where it runs, for messages: "the docker engine at unix:///..."
    on: str  # placed after "container NAME" in messages: "" or " on HOST"
    there: str  # placed after a command users should run: "" or " there"

    def inspect_container(self, ident: str) -> dict[str, Any] | None:
        """The container's inspect data; None when there is no such container."""

    def inspect_image(self, ident: str) -> dict[str, Any] | None:
        """The image's inspect data; None when there is no such image."""

    def start(self, container_id: str) -> None: ...

    def stop(self, container_id: str, timeout: int) -> None: ...

    def pause(self, container_id: str) -> None: ...

    def unpause(self, container_id: str) -> None: ...

    def run_image(self, image: str, command: list[str], platform: str | None) -> str:
        """Create and start a container of ``image`` running ``command`` (entrypoint
        cleared, labelled ``pyinfra=1``); its id."""

    def commit(self, container_id: str, comment: str, changes: list[str]) -> str:
        """Commit the container to a new image; the image id."""

    def remove(self, container_id: str) -> None:
        """Remove the container (with force, and its anonymous volumes)."""

    def user_exists(self, container_id: str, user: str) -> bool:
        """Whether ``user`` exists in the container (asked as root)."""


class ContainerLifecycle:
    """Brings one container up for a run (:meth:`up`) and back afterwards (:meth:`down`)."""

    def __init__(
        self, engine: Engine, identifier: str, data: Mapping[str, Any], host_name: str
    ) -> None:
        self.engine = engine
        self.host_name = host_name  # for log lines
        self.identifier = identifier
        self.data = data
        self.container_id: str | None = None
        self.mode: str | None = None  # running | paused | stopped | image
        self.committed_image: str | None = None
        self._created = False
        self._image_changes: list[str] = []

    @property
    def container(self) -> str:
        """``container NAME`` (``on HOST`` for a remote engine), for messages."""
        return f"container {self.identifier}{self.engine.on}"

    # Up ---------------------------------------------------------------------

    def up(self) -> str:
        """Find the container (or start one from the image), bring it up, check the
        ``docker_user``; the container id."""
        try:
            info = self.engine.inspect_container(self.identifier)
            if info is None:
                self.container_id = self._run_image()
                self.mode = "image"
            else:
                self.container_id = str(info["Id"])
                self.mode = self._bring_up(info)
            self._check_user()
        except BaseException:
            self._undo()
            raise
        return self.container_id

    def _bring_up(self, info: dict[str, Any]) -> str:
        assert self.container_id is not None
        state = info.get("State") or {}
        if state.get("Paused"):
            self.engine.unpause(self.container_id)
            return "paused"
        if state.get("Running"):
            return "running"
        self.engine.start(self.container_id)
        self.mode = "stopped"
        self._require_running("exited right after being started")
        return "stopped"

    def _require_running(self, what: str, settle: float = 1.0) -> None:
        """Fail if the container is not running, watching it for ``settle`` seconds: a
        container whose command ends at once must be reported now, not at the first
        command."""
        assert self.container_id is not None
        deadline = time.monotonic() + settle
        while True:
            state = (self.engine.inspect_container(self.container_id) or {}).get("State") or {}
            if not state.get("Running") or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if not state.get("Running"):
            raise ConnectError(
                f"{self.container} {what} (status {state.get('ExitCode')}): its command "
                "must keep running, e.g. `sleep infinity`"
            )

    def _run_image(self) -> str:
        image = self.engine.inspect_image(self.identifier)
        if image is None:
            name = self.engine.name
            raise ConnectError(
                f"no container or image named {self.identifier!r} on {self.engine.where}: "
                f"check `{name} ps -a` and `{name} images`{self.engine.there} "
                "(pull the image first)"
            )
        config = image.get("Config") or {}
        # The committed image gets the source image's entrypoint and command back.
        self._image_changes = [
            f"ENTRYPOINT {json.dumps(config.get('Entrypoint') or [])}",
            f"CMD {json.dumps(config.get('Cmd') or [])}",
        ]
        platform = self.data.get("docker_platform")
        arch = self.data.get("docker_architecture")
        if not platform and arch:
            platform = f"linux/{arch}"
        container_id = self.engine.run_image(self.identifier, KEEPALIVE, platform)
        self.container_id = container_id
        self._created = True
        self.mode = "image"
        self._require_running("(started from an image) exited at once", settle=0.0)
        logger.info(
            "%s: started container %s from image %s%s",
            self.host_name,
            container_id[:12],
            self.identifier,
            self.engine.on,
        )
        return container_id

    def _check_user(self) -> None:
        user = self.data.get("docker_user")
        if not user:
            return
        assert self.container_id is not None
        name = str(user).split(":", 1)[0]
        if not name.isdigit() and not self.engine.user_exists(self.container_id, name):
            raise ConnectError(
                f"docker_user {name!r} does not exist in {self.container}: create it "
                "(useradd) or change docker_user"
            )

    def _undo(self) -> None:
        """Undo a half-done ``up``: remove a container we created, restore the state."""
        try:
            if self._created and self.container_id:
                self.engine.remove(self.container_id)
            elif self.mode is not None:
                self.down()
        except ConnectError as exc:
            logger.warning("could not undo the connect to %s: %s", self.container, exc)
        finally:
            self.mode = None
            self.container_id = None
            self._created = False

    # Down -------------------------------------------------------------------

    def down(self) -> str | None:
        """Restore the container's state (pause or stop it again), or commit a
        container started from an image to a new image and remove it; that image's id."""
        mode, self.mode = self.mode, None
        container_id = self.container_id
        if mode is None or container_id is None:
            return None
        if mode == "paused":
            self.engine.pause(container_id)
        elif mode == "stopped":
            self.engine.stop(container_id, int(self.data.get("docker_stop_timeout") or 10))
        elif mode == "image":
            try:
                self.committed_image = self.engine.commit(
                    container_id, f"pyinfra run on {self.identifier}", self._image_changes
                )
                logger.info(
                    "%s: committed container %s to image %s%s",
                    self.host_name,
                    container_id[:12],
                    self.committed_image,
                    self.engine.on,
                )
            finally:
                self._created = False
                self.engine.remove(container_id)
        return self.committed_image

    # During the run ---------------------------------------------------------

    def is_running(self) -> bool | None:
        """Whether the container still runs (None: cannot tell)."""
        if self.container_id is None:
            return None
        try:
            info = self.engine.inspect_container(self.container_id)
        except ConnectError:
            return None
        return bool(info and (info.get("State") or {}).get("Running"))

    def gone(self, settle: float = 0.0) -> Failure | None:
        """Why a command's stream ended abnormally, when it is because the container
        stopped or was removed. ``settle``: seconds to wait for the engine to record the
        stop (the stream can end a moment before the container's state changes)."""
        if self.container_id is None:
            return None
        deadline = time.monotonic() + settle
        while True:
            try:
                info = self.engine.inspect_container(self.container_id)
            except ConnectError:
                return None
            if info is None:
                return Failure(TARGET_GONE, f"{self.container} was removed during the command")
            state = info.get("State") or {}
            if not state.get("Running"):
                break
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)
        return Failure(
            TARGET_GONE,
            f"container {self.identifier} stopped during the command (container exit status "
            f"{state.get('ExitCode')}): {self.container} is not running any more",
        )
