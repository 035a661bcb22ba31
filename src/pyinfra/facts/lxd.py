"""LXD containers (``lxc list``)."""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api.facts import FactBase


class LxdContainers(FactBase["list[dict[str, Any]]"]):
    """The LXD containers as ``lxc list --format json`` describes them (``name``,
    ``status``...)."""

    requires_command = "lxc"

    @staticmethod
    def default() -> list[dict[str, Any]]:
        return []

    def command(self) -> str:
        return "lxc list --format json --fast"

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        containers: list[dict[str, Any]] = json.loads("\n".join(output))
        return containers
