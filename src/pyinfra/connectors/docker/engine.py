"""The Engine API (docker's, or podman's compatible one) as a lifecycle
:class:`~pyinfra.connectors.docker.lifecycle.Engine`."""

from __future__ import annotations

import json
from typing import Any

from pyinfra.connectors._runner.scripts import script
from pyinfra.connectors.docker.api import EngineClient, EngineError, error_message, quote_path
from pyinfra.connectors.docker.exec import exec_status


class ApiEngine:
    """The container :class:`~pyinfra.connectors.docker.lifecycle.Engine` of an Engine
    API endpoint (docker, or podman's compatible API)."""

    on = ""
    there = ""

    def __init__(self, client: EngineClient) -> None:
        self.client = client
        self.name = client.endpoint.engine
        self.where = f"the {self.name} engine at {client.endpoint}"

    def _inspect(self, kind: str, ident: str) -> dict[str, Any] | None:
        status, data = self.client.request("GET", f"/{kind}/{quote_path(ident)}/json")
        if status == 404:
            return None
        if status != 200:
            raise EngineError(status, error_message(data, status))
        info: dict[str, Any] = json.loads(data)
        return info

    def inspect_container(self, ident: str) -> dict[str, Any] | None:
        return self._inspect("containers", ident)

    def inspect_image(self, ident: str) -> dict[str, Any] | None:
        return self._inspect("images", ident)

    def start(self, container_id: str) -> None:
        self.client.call("POST", f"/containers/{quote_path(container_id)}/start")

    def stop(self, container_id: str, timeout: int) -> None:
        self.client.call(
            "POST",
            f"/containers/{quote_path(container_id)}/stop",
            query={"t": timeout},
            ok=(204, 304, 404),
        )

    def pause(self, container_id: str) -> None:
        self.client.call("POST", f"/containers/{quote_path(container_id)}/pause", ok=(204, 409))

    def unpause(self, container_id: str) -> None:
        self.client.call("POST", f"/containers/{quote_path(container_id)}/unpause")

    def run_image(self, image: str, command: list[str], platform: str | None) -> str:
        created = self.client.call(
            "POST",
            "/containers/create",
            {"Image": image, "Entrypoint": [], "Cmd": command, "Labels": {"pyinfra": "1"}},
            query={"platform": platform} if platform else None,
        )
        container_id = str(created["Id"])
        try:
            self.client.call("POST", f"/containers/{container_id}/start")
        except BaseException:
            self.remove(container_id)
            raise
        return container_id

    def commit(self, container_id: str, comment: str, changes: list[str]) -> str:
        result = self.client.call(
            "POST",
            "/commit",
            {},
            query={"container": container_id, "comment": comment, "changes": changes},
        )
        return str(result.get("Id") or result.get("id") or "")

    def remove(self, container_id: str) -> None:
        self.client.call(
            "DELETE",
            f"/containers/{quote_path(container_id)}",
            query={"force": "true", "v": "true"},
            ok=(204, 404),
        )

    def user_exists(self, container_id: str, user: str) -> bool:
        return exec_status(self.client, container_id, user_exists_argv(user), "0") != 3


def user_exists_argv(user: str) -> list[str]:
    """The command that exits 3 when ``user`` does not exist."""
    return ["sh", "-c", script("user-exists"), "pyinfra", user]
