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
from collections.abc import Callable
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import ConnectError
from pyinfra.connectors._runner.markers import PID_END, PID_PREFIX, PTY_READY_MARKER
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
# The exec first says its PID (it leads the exec's session: a kill ends the session). On
# a terminal the container's pty echoes input (and the ^D that ends it) back: turn that
# off, then say so; stdin is held back until then.
_PID_PRELUDE = "printf '\\033]pyinfra-pid;%d\\007' \"$$\" >&2\n"
_PTY_PRELUDE = "stty -echo 2>/dev/null; printf '\\033]pyinfra-pty-ready\\007'\n"
_MAX_HOLD = 65536


def exec_argv(argv: list[str], pty: bool) -> list[str]:
    """``argv`` that first prints the PID marker (and on a terminal turns off the echo
    and prints the ready marker): inside its own ``sh -c`` script when it is one, else
    in a shell that then becomes the command (``exec``)."""
    prelude = _PID_PRELUDE + (_PTY_PRELUDE if pty else "")
    if len(argv) >= 3 and argv[:2] == ["sh", "-c"]:
        return ["sh", "-c", prelude + argv[2], *argv[3:]]
    return ["sh", "-c", prelude + 'exec "$@"', "pyinfra-exec", *argv]


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
        args += ["-e", f"{TOKEN_VAR}={token}", container_id, *exec_argv(request.argv, request.pty)]
        process = SSHProcess(
            self.connection, ProcessRequest.plain(_shell_line(args), pty=request.pty)
        )
        return RemoteExecProcess(self, lifecycle, process, token, user, request.pty)

    def kill(
        self, container_id: str, token: str, user: str | None, leader: int | None = None
    ) -> None:
        """Kill the command's session (led by ``leader``, the exec's PID) and every
        process carrying ``token`` (and their sessions), as root in the container. Without
        the leader, processes of another user are first found as that user (root in a
        container cannot read their environment)."""
        found: list[str] = [str(leader)] if leader else []
        if not found and user and user.split(":", 1)[0] not in ("0", "root"):
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


class _Markers:
    """Takes the exec's markers out of the stream that carries them: its PID (the
    exec's session leader, to kill its session) and, on a terminal, the ready marker
    (echo is off: stdin may flow). Bytes are held back while a marker may come."""

    def __init__(self, want_ready: bool) -> None:
        self.want_ready = want_ready
        self.pid: int | None = None
        self.hold = b""
        self.done = threading.Event()

    def feed(self, data: bytes) -> bytes | None:
        """What to pass on of ``data``; ``b""`` only at the end of the stream, None when
        there is nothing to pass on yet."""
        if self.done.is_set():
            return data
        if not data:
            return self._finish()
        self.hold += data
        while not self.done.is_set():
            if self.pid is None:
                start = self.hold.find(PID_PREFIX)
                end = self.hold.find(PID_END, start) if start >= 0 else -1
                if end < 0:
                    break
                digits = self.hold[start + len(PID_PREFIX) : end]
                self.pid = int(digits) if digits.isdigit() else 0
                self.hold = self.hold[:start] + self.hold[end + len(PID_END) :]
                if not self.want_ready:
                    self.done.set()
            else:
                index = self.hold.find(PTY_READY_MARKER)
                if index < 0:
                    break
                self.hold = self.hold[:index] + self.hold[index + len(PTY_READY_MARKER) :]
                self.done.set()
        if self.done.is_set() or len(self.hold) > _MAX_HOLD:
            return self._finish() or None
        return None

    def _finish(self) -> bytes:
        data, self.hold = self.hold, b""
        self.done.set()
        return data


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
        self._pty = pty
        self._killed = False
        self._markers = _Markers(want_ready=pty)

    def _read(self, read: Callable[[], bytes]) -> bytes:
        while True:
            data = self._markers.feed(read())
            if data is not None:
                return data

    def read_stdout(self) -> bytes:
        if self._pty:  # a terminal carries both markers on its one stream
            return self._read(self.process.read_stdout)
        return self.process.read_stdout()

    def read_stderr(self) -> bytes:
        if self._pty:
            return self.process.read_stderr()
        return self._read(self.process.read_stderr)

    def write_stdin(self, data: bytes) -> None:
        if self._pty:
            self._markers.done.wait()
        self.process.write_stdin(data)

    def close_stdin(self) -> None:
        if self._pty:
            self._markers.done.wait()
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
                self._markers.done.wait(2.0)
                self.engine.kill(container_id, self.token, self.user, self._markers.pid)
        except Exception as exc:  # noqa: BLE001 - the client must be killed all the same
            logger.warning(
                "could not kill the command inside %s: %s", self.lifecycle.container, exc
            )
        finally:
            self._markers.done.set()
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
