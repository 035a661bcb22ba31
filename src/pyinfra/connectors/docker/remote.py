"""A Docker engine on another machine, driven through its ``docker`` CLI over SSH.

Used by ``@dockerssh/HOST:CONTAINER_OR_IMAGE``. Every engine call is one ``docker ...``
command on a channel of an SSH connection to HOST (a private
:class:`~pyinfra.connectors.ssh.SSHConnector`); every value is shell-quoted for the
remote login shell. :class:`RemoteEngine` applies the same lifecycle rules as
``@docker`` (running: used and left running; paused: unpaused, paused again; stopped:
started, stopped again; image: a fresh container, committed to a new image at the end
and removed) and translates the CLI's failures into one-line ``ConnectError``\\s.

A command runs as ``docker exec -i [-t] [-u USER] -e PYINFRA_EXEC_TOKEN=T ID ARGV...``
(ARGV: the one ``sh -c`` built by the execution connector). :class:`RemoteExecProcess`
kills a timed-out command inside the container (every process carrying its token, and
their sessions) before killing the ``docker`` client on HOST.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import shlex
import threading
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import ConnectError
from pyinfra.connectors._runner.loop import Process
from pyinfra.connectors.docker.exec import FIND_SCRIPT, KILL_SCRIPT, TOKEN_VAR
from pyinfra.connectors.output import CommandOutput
from pyinfra.connectors.ssh.connector import SSHConnector

logger = logging.getLogger("pyinfra")

# Keeps a container started from an image alive; the image's entrypoint and command are
# restored in the committed image.
_KEEPALIVE = ["tail", "-f", "/dev/null"]
_CALL_TIMEOUT = 120
_KILL_TIMEOUT = 15
# On a terminal the container's pty echoes input (and the ^D that ends it) back: turn that
# off first, then say so; stdin is held back until then.
READY_MARK = b"\x1b]pyinfra-pty-ready\x07"
_PTY_PRELUDE = "stty -echo 2>/dev/null; printf '\\033]pyinfra-pty-ready\\007'\n"
_MAX_HOLD = 65536


def pty_argv(argv: list[str]) -> list[str]:
    """``argv`` that first turns off the terminal's echo and prints :data:`READY_MARK`
    (inside its own ``sh -c`` script when it is one, so no shell is added)."""
    if len(argv) >= 3 and argv[:2] == ["sh", "-c"]:
        return ["sh", "-c", _PTY_PRELUDE + argv[2], *argv[3:]]
    return ["sh", "-c", _PTY_PRELUDE + 'exec "$@"', "pyinfra-pty", *argv]


def _shell_line(argv: list[str]) -> StringCommand:
    return StringCommand(*[QuoteString(arg) for arg in argv])


class RemoteEngine:
    """One container on a remote Docker host, reached through ``ssh`` (connected)."""

    def __init__(
        self,
        name: str,
        ssh: SSHConnector,
        docker_command: str,
        identifier: str,
        data: dict[str, Any],
    ) -> None:
        self.name = name  # the inventory host, for messages
        self.ssh = ssh
        self.remote = ssh.host.name
        self.docker = shlex.split(docker_command) or ["docker"]
        self.identifier = identifier
        self.data = data
        self.user: str | None = str(data["docker_user"]) if data.get("docker_user") else None
        self.container_id: str | None = None
        self.mode: str | None = None  # running | paused | stopped | image
        self.committed_image: str | None = None
        self._image_changes: list[str] = []

    # -- docker CLI calls ----------------------------------------------------------------

    def run(self, *args: str, timeout: float = _CALL_TIMEOUT) -> tuple[bool, CommandOutput]:
        """Run ``docker ARGS`` on the remote host."""
        command = _shell_line([*self.docker, *args])
        return self.ssh.run_shell_command(command, _timeout=timeout)

    def call(self, *args: str, what: str) -> str:
        """Run ``docker ARGS``; its stdout, or a ConnectError saying ``what`` failed."""
        ok, output = self.run(*args)
        if not ok:
            raise self.error(output, what)
        return output.stdout

    def error(self, output: CommandOutput, what: str) -> ConnectError:
        """A one-line ConnectError for a failed docker CLI call."""
        text = output.stderr
        lower = text.lower()
        docker = self.docker[0]
        if output.timed_out:
            return ConnectError(
                f"{self.name}: {what} on {self.remote} timed out: is the docker engine there "
                "overloaded or hanging?"
            )
        if output.exit_code == 127 or (
            "not found" in lower and docker in text and "daemon" not in lower
        ):
            return ConnectError(
                f"{self.name}: {docker!r} is not installed on {self.remote} (not found in the "
                f"PATH of {self.ssh_user}): install docker there (apt-get install docker.io) "
                "or set dockerssh_docker_command"
            )
        if "permission denied" in lower and ("docker.sock" in lower or "daemon" in lower):
            return ConnectError(
                f"{self.name}: {self.ssh_user} on {self.remote} may not use docker (permission "
                f"denied on the docker socket): add {self.ssh_user} to the docker group, log in "
                "as root, or set dockerssh_docker_command to 'sudo -n docker'"
            )
        if "cannot connect to the docker daemon" in lower or "docker daemon running" in lower:
            return ConnectError(
                f"{self.name}: the docker engine on {self.remote} is not running: start it there "
                "(systemctl start docker, or dockerd)"
            )
        lines = [line for line in output.stderr_lines if line.strip()]
        detail = lines[-1] if lines else f"exit status {output.exit_code}"
        return ConnectError(f"{self.name}: {what} on {self.remote} failed: {detail}")

    @property
    def ssh_user(self) -> str:
        try:
            return self.ssh.settings().user
        except Exception:  # noqa: BLE001 - only for a message
            return "the SSH user"

    def _inspect(self, kind: str, ident: str) -> dict[str, Any] | None:
        """``docker KIND inspect IDENT`` as a dict; None when it does not exist."""
        ok, output = self.run(kind, "inspect", "--", ident)
        if not ok:
            if "no such" in output.stderr.lower():
                return None
            raise self.error(output, f"docker {kind} inspect")
        try:
            items = json.loads(output.stdout)
        except ValueError as exc:
            raise ConnectError(
                f"{self.name}: unreadable output from docker {kind} inspect on {self.remote}: {exc}"
            ) from None
        return dict(items[0]) if items else None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Find the container (or start one from the image) and bring it up."""
        try:
            info = self._inspect("container", self.identifier)
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

    def _bring_up(self, info: dict[str, Any]) -> str:
        assert self.container_id is not None
        state = info.get("State") or {}
        if state.get("Paused"):
            self.call("unpause", self.container_id, what="docker unpause")
            return "paused"
        if state.get("Running"):
            return "running"
        self.call("start", self.container_id, what="docker start")
        self.mode = "stopped"
        self._require_running("exited right after being started")
        return "stopped"

    def _require_running(self, what: str) -> None:
        assert self.container_id is not None
        info = self._inspect("container", self.container_id) or {}
        state = info.get("State") or {}
        if not state.get("Running"):
            raise ConnectError(
                f"{self.name}: container {self.identifier} on {self.remote} {what} (status "
                f"{state.get('ExitCode')}): its command must keep running, e.g. `sleep infinity`"
            )

    def _run_image(self) -> str:
        image = self._inspect("image", self.identifier)
        if image is None:
            raise ConnectError(
                f"{self.name}: no container or image named {self.identifier!r} on the docker "
                f"host {self.remote}: check `docker ps -a` and `docker images` there (pull the "
                "image first)"
            )
        config = image.get("Config") or {}
        self._image_changes = [
            f"ENTRYPOINT {json.dumps(config.get('Entrypoint') or [])}",
            f"CMD {json.dumps(config.get('Cmd') or [])}",
        ]
        args = ["run", "-d", "--label", "pyinfra=1", "--entrypoint", ""]
        platform = self.data.get("docker_platform")
        if not platform and self.data.get("docker_architecture"):
            platform = f"linux/{self.data['docker_architecture']}"
        if platform:
            args += ["--platform", str(platform)]
        out = self.call(*args, "--", self.identifier, *_KEEPALIVE, what="docker run")
        container_id = out.strip().splitlines()[-1].strip() if out.strip() else ""
        if not container_id:
            raise ConnectError(f"{self.name}: docker run on {self.remote} printed no container id")
        self.container_id = container_id
        self.mode = "image"
        self._require_running("(started from an image) exited at once")
        logger.info(
            "%s: started container %s from image %s on %s",
            self.name,
            container_id[:12],
            self.identifier,
            self.remote,
        )
        return container_id

    def _check_user(self) -> None:
        if not self.user:
            return
        assert self.container_id is not None
        name = self.user.split(":", 1)[0]
        script = 'id -u -- "$1" >/dev/null 2>&1 || exit 3'
        ok, output = self.run(
            "exec", "-u", "0", self.container_id, "sh", "-c", script, "pyinfra", name
        )
        if output.exit_code == 3 and not name.isdigit():
            raise ConnectError(
                f"{self.name}: docker_user {name!r} does not exist in container "
                f"{self.identifier} on {self.remote}: create it (useradd) or change docker_user"
            )
        if not ok and output.exit_code != 3:
            raise self.error(output, "docker exec")

    def _undo(self) -> None:
        """Undo a half-done start (remove a container we made, restore the state)."""
        with contextlib.suppress(Exception):
            if self.mode is not None:
                self.stop()
        self.mode = None
        self.container_id = None

    def stop(self) -> None:
        """Restore the container's state: pause / stop again, or commit and remove."""
        mode, self.mode = self.mode, None
        container_id = self.container_id
        if mode is None or container_id is None:
            return
        if mode == "paused":
            self.call("pause", container_id, what="docker pause")
        elif mode == "stopped":
            timeout = int(self.data.get("docker_stop_timeout") or 10)
            self.call("stop", "-t", str(timeout), container_id, what="docker stop")
        elif mode == "image":
            try:
                self._commit(container_id)
            finally:
                self.run("rm", "-f", "-v", container_id)

    def _commit(self, container_id: str) -> None:
        args = ["commit", "-m", f"pyinfra run on {self.identifier}"]
        for change in self._image_changes:
            args += ["--change", change]
        out = self.call(*args, container_id, what="docker commit")
        self.committed_image = out.strip().splitlines()[-1].strip() if out.strip() else ""
        logger.info(
            "%s: committed container %s to image %s on %s",
            self.name,
            container_id[:12],
            self.committed_image,
            self.remote,
        )

    def is_running(self) -> bool | None:
        """Whether the container still runs (None: cannot tell)."""
        if self.container_id is None:
            return None
        try:
            info = self._inspect("container", self.container_id)
        except ConnectError:
            return None
        return bool(info and (info.get("State") or {}).get("Running"))

    # -- commands ------------------------------------------------------------------------

    def start_process(self, argv: list[str], get_pty: bool) -> RemoteExecProcess:
        """Start ``argv`` in the container (``docker exec`` on a new SSH channel)."""
        assert self.container_id is not None
        token = secrets.token_hex(12)
        args = [*self.docker, "exec", "-i"]
        if get_pty:
            args.append("-t")
        if self.user:
            args += ["-u", self.user]
        if get_pty:
            argv = pty_argv(argv)
        args += ["-e", f"{TOKEN_VAR}={token}", self.container_id, *argv]
        process = self.ssh.start_process(_shell_line(args).get_raw_value(), get_pty)
        return RemoteExecProcess(self, process, token, get_pty)

    def kill(self, token: str) -> None:
        """Kill every process of the command carrying ``token`` (and its sessions), as root
        in the container. Processes of another user are first found as that user (root in
        a container cannot read their environment)."""
        assert self.container_id is not None
        found: list[str] = []
        if self.user and self.user.split(":", 1)[0] not in ("0", "root"):
            ok, output = self.run(
                "exec",
                "-u",
                self.user,
                self.container_id,
                "sh",
                "-c",
                FIND_SCRIPT,
                "pyinfra-find",
                token,
                timeout=_KILL_TIMEOUT,
            )
            found = [word for word in output.stdout.split() if word.isdigit()]
        args = ["sh", "-c", KILL_SCRIPT, "pyinfra-kill", token, "-", *found]
        ok, output = self.run("exec", "-u", "0", self.container_id, *args, timeout=_KILL_TIMEOUT)
        if not ok:
            raise self.error(output, "killing the command in the container")


class RemoteExecProcess:
    """A ``docker exec`` on an SSH channel; ``kill`` reaches into the container."""

    def __init__(
        self, engine: RemoteEngine, process: Process, token: str, pty: bool = False
    ) -> None:
        self.engine = engine
        self.process = process
        self.token = token
        self.has_stderr = process.has_stderr
        self._killed = False
        self._scanning = pty  # looking for READY_MARK on stdout
        self._hold = b""
        self._ready = threading.Event()
        if not pty:
            self._ready.set()

    def read_stdout(self) -> bytes:
        data = self.process.read_stdout()
        while self._scanning:
            if not data:
                return self._stop_scanning(self._hold)
            self._hold += data
            index = self._hold.find(READY_MARK)
            if index >= 0:
                rest = self._hold[:index] + self._hold[index + len(READY_MARK) :]
                self._stop_scanning(b"")
                if rest:
                    return rest
            elif len(self._hold) > _MAX_HOLD:
                return self._stop_scanning(self._hold)
            data = self.process.read_stdout()
        return data

    def _stop_scanning(self, data: bytes) -> bytes:
        self._scanning = False
        self._hold = b""
        self._ready.set()
        return data

    def read_stderr(self) -> bytes:
        return self.process.read_stderr()

    def write_stdin(self, data: bytes) -> None:
        self._ready.wait()
        self.process.write_stdin(data)

    def close_stdin(self) -> None:
        self._ready.wait()
        self.process.close_stdin()

    def wait(self, timeout: float | None) -> int | None:
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self._killed:
            return
        self._killed = True
        try:
            self.engine.kill(self.token)
        except Exception as exc:  # noqa: BLE001 - the client must be killed all the same
            logger.warning(
                "%s: could not kill the command inside container %s: %s",
                self.engine.name,
                self.engine.identifier,
                exc,
            )
        finally:
            self._ready.set()
            self.process.kill()

    def close(self) -> None:
        close = getattr(self.process, "close", None)
        if close is not None:
            close()
