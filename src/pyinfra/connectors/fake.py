"""The ``@fake`` connector: a recording, scriptable target for users' own tests.

``pyinfra @fake/web,db deploy.py`` or ``Inventory((["@fake/web"], {}))``. Nothing is
executed: every command is recorded (with the full sudo/env wrapping it would get),
and answered by the first scripted response whose pattern matches::

    from pyinfra.connectors.fake import FakeConnector
    FakeConnector.script("uname -n", stdout="web1\\n")
    FakeConnector.script(re.compile(r"^apt-get"), exit_code=100, stderr="E: locked")
    ...
    assert FakeConnector.commands_for("@fake/web")[0].command == "..."

Files put on a fake host are kept in memory (``FakeConnector.files``) and can be
read back with ``get_file``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from typing_extensions import Unpack

from pyinfra.api.arguments import ConnectorArguments, ResolvedArguments
from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import InventoryError, TransferError
from pyinfra.connectors._runner.command import make_unix_command
from pyinfra.connectors._runner.loop import stdin_bytes
from pyinfra.connectors._runner.transfer import DownloadTarget, open_upload_source
from pyinfra.connectors.base import BaseConnector, DataMeta
from pyinfra.connectors.output import TIMEOUT, CommandOutput, OutputLine
from pyinfra.connectors.util import log_command

Handler = Callable[["FakeCall"], "tuple[int, str, str] | None"]


@dataclass
class FakeResponse:
    pattern: str | re.Pattern[str]
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    delay: float = 0.0
    host: str | None = None
    handler: Handler | None = None

    def matches(self, call: FakeCall) -> bool:
        if self.host is not None and self.host != call.host:
            return False
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.search(call.command) is not None
        return self.pattern in call.command


@dataclass
class FakeCall:
    host: str
    command: str  # the command as given (masked)
    full_command: str  # with env/chdir/sudo wrapping (masked)
    arguments: dict[str, Any] = field(default_factory=dict)
    stdin: bytes | None = None


class FakeConnector(BaseConnector):
    """A connector that records commands and answers them from scripted responses."""

    handles_execution = True
    data_meta = {"fake_name": DataMeta("Name given after @fake/")}

    _lock = threading.Lock()
    responses: list[FakeResponse] = []
    calls: list[FakeCall] = []
    files: dict[str, dict[str, bytes]] = {}
    directories: dict[str, set[str]] = {}
    connects: list[str] = []
    default_directories = frozenset(
        {"/", "/tmp", "/etc", "/root", "/home", "/var", "/opt", "/usr", "/srv"}
    )

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        if not name:
            raise InventoryError("@fake needs one or more names: @fake/web or @fake/web,db")
        for part in name.split(","):
            part = part.strip()
            if part:
                yield f"@fake/{part}", {"fake_name": part}, []

    # Scripting -----------------------------------------------------------

    @classmethod
    def script(
        cls,
        pattern: str | re.Pattern[str],
        stdout: str = "",
        stderr: str = "",
        exit_code: int = 0,
        delay: float = 0.0,
        host: str | None = None,
        handler: Handler | None = None,
    ) -> FakeResponse:
        """Answer commands containing ``pattern`` (or matching a regex). First match wins."""
        response = FakeResponse(pattern, exit_code, stdout, stderr, delay, host, handler)
        with cls._lock:
            cls.responses.append(response)
        return response

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.responses.clear()
            cls.calls.clear()
            cls.files.clear()
            cls.directories.clear()
            cls.connects.clear()

    @classmethod
    def add_directory(cls, host_name: str, path: str) -> None:
        """Make ``path`` exist on the fake host (``/tmp``, ``/etc``... always do)."""
        with cls._lock:
            cls.directories.setdefault(host_name, set()).add(path.rstrip("/") or "/")

    @classmethod
    def commands_for(cls, host_name: str) -> list[FakeCall]:
        with cls._lock:
            return [c for c in cls.calls if c.host == host_name]

    # Connector -----------------------------------------------------------

    def connect(self) -> None:
        with self._lock:
            self.connects.append(self.host.name)

    def run_shell_command(
        self,
        command: StringCommand | str,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> tuple[bool, CommandOutput]:
        resolved = ResolvedArguments.from_call(arguments)
        full = make_unix_command(command, **resolved.command_arguments())
        log_command(self.host.name, full, print_input)
        text = command.get_masked_value() if isinstance(command, StringCommand) else command
        call = FakeCall(
            self.host.name,
            text,
            full.get_masked_value(),
            dict(resolved),
            stdin_bytes(resolved.stdin),
        )
        with self._lock:
            self.calls.append(call)
            candidates = [r for r in self.responses if r.matches(call)]
        extra = self.host.data.get("fake_responses") or []
        for item in extra:
            response = FakeResponse(**item) if isinstance(item, dict) else item
            if response.matches(call):
                candidates.append(response)
        exit_code, stdout, stderr, delay = 0, "", "", 0.0
        if candidates:
            response = candidates[0]
            exit_code, stdout, stderr, delay = (
                response.exit_code,
                response.stdout,
                response.stderr,
                response.delay,
            )
            if response.handler is not None:
                answer = response.handler(call)
                if answer is not None:
                    exit_code, stdout, stderr = answer
        timeout = resolved.timeout
        if delay:
            if timeout is not None and delay > timeout:
                time.sleep(timeout)
                output = CommandOutput(exit_code=None, timed_out=True)
                output.fail(TIMEOUT, f"command timed out after {timeout:g} s and was killed")
                return False, output
            time.sleep(delay)
        lines = [OutputLine("stdout", line) for line in stdout.splitlines()]
        lines += [OutputLine("stderr", line) for line in stderr.splitlines()]
        return exit_code in resolved.success_exit_codes, CommandOutput(lines, exit_code=exit_code)

    def put_file(
        self,
        filename_or_io: str | IO[Any],
        remote_filename: str,
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        with open_upload_source(filename_or_io) as source:
            data = source.read()
        parent = remote_filename.rsplit("/", 1)[0] or "/" if "/" in remote_filename else "/"
        known = self.default_directories | self.directories.get(self.host.name, set())
        if parent not in known:
            raise TransferError(
                f"{self.host.name}: upload to {remote_filename} failed: "
                f"directory {parent} does not exist (fake host)"
            )
        with self._lock:
            self.files.setdefault(self.host.name, {})[remote_filename] = bytes(data)
            self.calls.append(
                FakeCall(
                    self.host.name,
                    f"<put {remote_filename}>",
                    f"<put {remote_filename}>",
                    dict(arguments),
                )
            )
        return True

    def get_file(
        self,
        remote_filename: str,
        filename_or_io: str | IO[Any],
        remote_temp_filename: str | None = None,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        with self._lock:
            data = self.files.get(self.host.name, {}).get(remote_filename)
            self.calls.append(
                FakeCall(
                    self.host.name,
                    f"<get {remote_filename}>",
                    f"<get {remote_filename}>",
                    dict(arguments),
                )
            )
        if data is None:
            raise TransferError(
                f"{self.host.name}: download of {remote_filename} failed: No such file (fake host)"
            )
        with DownloadTarget(filename_or_io) as write:
            write(data)
        return True
