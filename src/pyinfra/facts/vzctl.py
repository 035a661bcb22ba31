"""OpenVZ containers (``vzlist``)."""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api.facts import FactBase


class OpenvzContainers(FactBase["dict[int, dict[str, Any]]"]):
    """``{ctid: {"hostname", "ip", "ostemplate", "status"...}}`` for every container
    (``vzlist -a -j``)."""

    requires_command = "vzlist"

    @staticmethod
    def default() -> dict[int, dict[str, Any]]:
        return {}

    def command(self) -> str:
        return "vzlist -a -j"

    def process(self, output: list[str]) -> dict[int, dict[str, Any]]:
        containers = {}
        for item in json.loads("".join(output)):
            details = dict(item)
            containers[int(details.pop("ctid"))] = details
        return containers
