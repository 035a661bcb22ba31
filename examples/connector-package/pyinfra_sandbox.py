"""``@sandbox/DIR``: an example connector package for pyinfra.

Commands run on this machine, in the directory ``DIR`` (created at connect), with a
clean environment (``HOME`` is the directory). The connector only says how to start a
process; the execution connector does the rest (sudo, timeouts, stdin, files...).
It has no terminals: ``_get_pty`` is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from typing_extensions import TypedDict

from pyinfra.api.exceptions import ConnectError, InventoryError
from pyinfra.connectors.base import DataMeta
from pyinfra.connectors.execution import (
    ExecutionConnector,
    LocalProcess,
    Process,
    ProcessRequest,
)

_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SandboxData(TypedDict, total=False):
    sandbox_dir: str


class SandboxConnector(ExecutionConnector):
    handles_execution = True
    data_cls = SandboxData
    data_meta = {"sandbox_dir": DataMeta("The directory commands run in (@sandbox/DIR)")}

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        if not name or not name.startswith("/"):
            raise InventoryError("@sandbox needs an absolute directory: @sandbox//srv/box")
        yield f"@sandbox/{name}", {"sandbox_dir": name}, ["sandboxes"]

    def connect(self) -> None:
        directory = str(self.data["sandbox_dir"])
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise ConnectError(f"cannot create sandbox {directory}: {exc.strerror}") from exc

    def start_process(self, request: ProcessRequest) -> Process:
        if request.pty:
            raise ConnectError(f"{self.host.name}: @sandbox has no terminals (_get_pty)")
        directory = str(self.data["sandbox_dir"])
        env = {"PATH": _PATH, "HOME": directory, "LANG": "C.UTF-8"}
        return LocalProcess(["sh", "-c", request.raw], env=env, cwd=directory)
