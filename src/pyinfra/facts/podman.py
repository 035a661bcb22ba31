"""Facts about podman on the host, read with its ``podman`` CLI (``None`` when podman
is missing)."""

from __future__ import annotations

from typing import Any, TypeVar

from pyinfra.api.facts import FactBase
from pyinfra.facts.parsing import parse_json

T = TypeVar("T")


class PodmanFactBase(FactBase[T]):
    """Base of the podman facts: they need the ``podman`` program."""

    abstract = True

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "podman"


class PodmanSystemInfo(PodmanFactBase[dict[str, Any]]):
    """``podman system info`` as a dict (host, store, registries, version)."""

    def command(self) -> str:
        return "podman system info --format=json"

    def process(self, output: list[str]) -> dict[str, Any]:
        value = parse_json(output)
        if not isinstance(value, dict):
            raise ValueError(f"podman system info printed {type(value).__name__}, not an object")
        return value


class PodmanPs(PodmanFactBase[list[dict[str, Any]]]):
    """Every container, running or not (``podman ps --all`` as a list of dicts)."""

    def command(self) -> str:
        return "podman ps --format=json --all"

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        value = parse_json(output)
        if not isinstance(value, list):
            raise ValueError(f"podman ps printed {type(value).__name__}, not a list")
        return value
