"""A container engine on another machine, driven through its CLI over SSH.

Used by ``@dockerssh/HOST:CONTAINER_OR_IMAGE`` and ``@podmanssh/HOST:...``. Every
engine call is one ``docker ...`` (or ``podman ...``) command line on a channel of an
SSH connection to HOST, run as the SSH user with no escalation (``--sudo`` is for the
container, never for HOST); every value is shell-quoted for the remote login shell.
:class:`CliEngine` is the lifecycle :class:`~pyinfra.connectors.docker.lifecycle.Engine`
of such a host, and translates the CLI's failures into one-line ``ConnectError``\\s.

A command runs as ``docker exec -i [-t] [-u USER] -e PYINFRA_EXEC_TOKEN=T ID ARGV...``
(ARGV: the argv of the request's command line). :class:`RemoteExecProcess` kills a
timed-out command inside the container (every process carrying its token, and their
sessions) before killing the ``docker`` client on HOST.
"""

from __future__ import annotations

import json
import logging
import secrets
import shlex
import threading
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import ConnectError
from pyinfra.connectors._runner.markers import PTY_READY_MARKER
from pyinfra.connectors._runner.process import Process
from pyinfra.connectors._runner.request import ProcessRequest
from pyinfra.connectors.docker.engine import user_exists_argv
from pyinfra.connectors.docker.exec import TOKEN_VAR, find_token_argv, kill_token_argv
from pyinfra.connectors.docker.lifecycle import ContainerLifecycle
from pyinfra.connectors.output import CONNECTION_LOST, CommandOutput, Failure
from pyinfra.connectors.ssh.connect import SSHConnection
from pyinfra.connectors.ssh.process import SSHProcess, run_helper

logger = logging.getLogger("pyinfra")

_CALL_TIMEOUT = 120
_KILL_TIMEOUT = 15
# On a terminal the container's pty echoes input (and the ^D that ends it) back: turn that
# off first, then say so; stdin is held back until then.
_PTY_PRELUDE = "stty -echo 2>/dev/null; printf '\\033]pyinfra-pty-ready\\007'\n"
_MAX_HOLD = 65536


def pty_argv(argv: list[str]) -> list[str]:
    """``argv`` that first turns off the terminal's echo and prints the pty-ready marker
    (inside its own ``sh -c`` script when it is one, so no shell is added)."""
    if len(argv) >= 3 and argv[:2] == ["sh", "-c"]:
        return ["sh", "-c", _PTY_PRELUDE + argv[2], *argv[3:]]
    return ["sh", "-c", _PTY_PRELUDE + 'exec "$@"', "pyinfra-pty", *argv]


def _shell_line(argv: list[str]) -> StringCommand:
    return StringCommand(*[QuoteString(arg) for arg in argv])


class CliEngine:
    """The engine of a remote host, through its CLI on an SSH connection."""

    on: str
    there = " there"

    def __init__(self, connection: SSHConnection, command: str) -> None:
        self.connection = connection
        self.remote = connection.settings.name
        self.cli = shlex.split(command) or ["docker"]
        self.name = "podman" if "podman" in self.cli else "docker"
        self.where = f"the {self.name} host {self.remote}"
        self.on = f" on {self.remote}"

    # -- CLI calls -----------------------------------------------------------------------

    def run(self, *args: str, timeout: float = _CALL_TIMEOUT) -> tuple[bool, CommandOutput]:
        """Run ``docker ARGS`` on the remote host."""
        return run_helper(self.connection, _shell_line([*self.cli, *args]), timeout)

    def call(self, *args: str, what: str) -> str:
        """Run ``docker ARGS``; its stdout, or a ConnectError saying ``what`` failed."""
        ok, output = self.run(*args)
        if not ok:
            raise self.error(output, what)
        return output.stdout

    def error(self, output: CommandOutput, what: str) -> ConnectError:
        """A one-line ConnectError for a failed CLI call."""
        text = output.stderr
        lower = text.lower()
        cli = self.cli[0]
        user = self.connection.settings.user
        if output.timed_out:
            return ConnectError(
                f"{what} on {self.remote} timed out: is the {self.name} engine there "
                "overloaded or hanging?"
            )
        if output.exit_code == 127 or (
            "not found" in lower and cli in text and "daemon" not in lower
        ):
            return ConnectError(
                f"{cli!r} is not installed on {self.remote} (not found in the PATH of {user}): "
                f"install {self.name} there (apt-get install "
                f"{'docker.io' if self.name == 'docker' else self.name}) or set "
                "dockerssh_docker_command"
            )
        if "permission denied" in lower and ("docker.sock" in lower or "daemon" in lower):
            return ConnectError(
                f"{user} on {self.remote} may not use {self.name} (permission denied on the "
                f"{self.name} socket): add {user} to the {self.name} group, log in as root, "
                f"or set dockerssh_docker_command to 'sudo -n {self.name}'"
            )
        if "cannot connect to the docker daemon" in lower or "docker daemon running" in lower:
            return ConnectError(
                f"the {self.name} engine on {self.remote} is not running: start it there "
                "(systemctl start docker, or dockerd)"
            )
        return ConnectError(f"{what} on {self.remote} failed: {output.failure_line()}")

    def _inspect(self, kind: str, ident: str) -> dict[str, Any] | None:
        ok, output = self.run(kind, "inspect", "--", ident)
        if not ok:
            if "no such" in output.stderr.lower():
                return None
            raise self.error(output, f"{self.name} {kind} inspect")
        try:
            items = json.loads(output.stdout)
        except ValueError as exc:
            raise ConnectError(
                f"unreadable output from {self.name} {kind} inspect on {self.remote}: {exc}"
            ) from None
        return dict(items[0]) if items else None

    # -- the lifecycle Engine ------------------------------------------------------------

    def inspect_container(self, ident: str) -> dict[str, Any] | None:
        return self._inspect("container", ident)

    def inspect_image(self, ident: str) -> dict[str, Any] | None:
        return self._inspect("image", ident)

    def start(self, container_id: str) -> None:
        self.call("start", container_id, what=f"{self.name} start")

    def stop(self, container_id: str, timeout: int) -> None:
        self.call("stop", "-t", str(timeout), container_id, what=f"{self.name} stop")

    def pause(self, container_id: str) -> None:
        self.call("pause", container_id, what=f"{self.name} pause")

    def unpause(self, container_id: str) -> None:
        self.call("unpause", container_id, what=f"{self.name} unpause")

    def run_image(self, image: str, command: list[str], platform: str | None) -> str:
        args = ["run", "-d", "--label", "pyinfra=1", "--entrypoint", ""]
        if platform:
            args += ["--platform", str(platform)]
        out = self.call(*args, "--", image, *command, what=f"{self.name} run")
        container_id = out.strip().splitlines()[-1].strip() if out.strip() else ""
        if not container_id:
            raise ConnectError(f"{self.name} run on {self.remote} printed no container id")
        return container_id

    def commit(self, container_id: str, comment: str, changes: list[str]) -> str:
        args = ["commit", "-m", comment]
        for change in changes:
            args += ["--change", change]
        out = self.call(*args, container_id, what=f"{self.name} commit")
        return out.strip().splitlines()[-1].strip() if out.strip() else ""

    def remove(self, container_id: str) -> None:
        self.run("rm", "-f", "-v", container_id)

    def user_exists(self, container_id: str, user: str) -> bool:
        ok, output = self.run("exec", "-u", "0", container_id, *user_exists_argv(user))
        if output.exit_code == 3:
            return False
        if not ok:
            raise self.error(output, f"{self.name} exec")
        return True

    # -- commands ------------------------------------------------------------------------

    def start_process(
        self, lifecycle: ContainerLifecycle, request: ProcessRequest, user: str | None
    ) -> RemoteExecProcess:
        """Start the request's command in the container (``docker exec`` on a channel)."""
        container_id = lifecycle.container_id
        assert container_id is not None
        token = secrets.token_hex(12)
        args = [*self.cli, "exec", "-i"]
        if request.pty:
            args.append("-t")
        if user:
            args += ["-u", user]
        argv = pty_argv(request.argv) if request.pty else request.argv
        args += ["-e", f"{TOKEN_VAR}={token}", container_id, *argv]
        process = SSHProcess(
            self.connection, ProcessRequest.plain(_shell_line(args), pty=request.pty)
        )
        return RemoteExecProcess(self, lifecycle, process, token, user, request.pty)

    def kill(self, container_id: str, token: str, user: str | None) -> None:
        """Kill every process of the command carrying ``token`` (and its sessions), as root
        in the container. Processes of another user are first found as that user (root in
        a container cannot read their environment)."""
        found: list[str] = []
        if user and user.split(":", 1)[0] not in ("0", "root"):
            _, output = self.run(
                "exec", "-u", user, container_id, *find_token_argv(token), timeout=_KILL_TIMEOUT
            )
            found = [word for word in output.stdout.split() if word.isdigit()]
        ok, output = self.run(
            "exec", "-u", "0", container_id, *kill_token_argv(token, None, found),
            timeout=_KILL_TIMEOUT,
        )  # fmt: skip
        if not ok:
            raise self.error(output, "killing the command in the container")


class RemoteExecProcess:
    """A ``docker exec`` on an SSH channel; ``kill`` reaches into the container."""

    def __init__(
        self,
        engine: CliEngine,
        lifecycle: ContainerLifecycle,
        process: Process,
        token: str,
        user: str | None,
        pty: bool = False,
    ) -> None:
        self.engine = engine
        self.lifecycle = lifecycle
        self.process = process
        self.token = token
        self.user = user
        self.has_stderr = process.has_stderr
        self._killed = False
        self._scanning = pty  # looking for the pty-ready marker on stdout
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
            index = self._hold.find(PTY_READY_MARKER)
            if index >= 0:
                rest = self._hold[:index] + self._hold[index + len(PTY_READY_MARKER) :]
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
            container_id = self.lifecycle.container_id
            if container_id is not None:
                self.engine.kill(container_id, self.token, self.user)
        except Exception as exc:  # noqa: BLE001 - the client must be killed all the same
            logger.warning(
                "could not kill the command inside %s: %s", self.lifecycle.container, exc
            )
        finally:
            self._ready.set()
            self.process.kill()

    def close(self) -> None:
        close = getattr(self.process, "close", None)
        if close is not None:
            close()

    def failure(self, output: CommandOutput) -> Failure | None:
        """Why the command failed when it was the connection or the container, not it."""
        if not self.engine.connection.active:
            return Failure(
                CONNECTION_LOST,
                f"the SSH connection to {self.engine.remote} was lost during the command",
            )
        code = output.exit_code
        daemon = any(line.startswith("Error response from daemon") for line in output.stderr_lines)
        if daemon or code is None or code < 0 or code >= 125:
            return self.lifecycle.gone()
        return None
