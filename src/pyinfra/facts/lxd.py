"""LXD containers (``lxc list``)."""

from __future__ import annotations

from typing import Any

from pyinfra.api.facts import FactBase
from pyinfra.facts.parsing import parse_json


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
        containers: list[dict[str, Any]] = parse_json(output)
        return containers
