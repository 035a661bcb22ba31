"""Facts about pipx: installed applications and pipx's environment."""

from __future__ import annotations

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackagesFact


class PipxPackages(PackagesFact):
    """Applications installed with pipx: ``{"name": {"version"}}``."""

    requires_command = "pipx"

    def command(self) -> str:
        return "pipx list --short"


class PipxEnvironment(FactBase["dict[str, str]"]):
    """pipx's effective paths: ``{"PIPX_HOME": ..., "PIPX_BIN_DIR": ...}`` (the values
    pipx computed, which follow the ones set by the user)."""

    requires_command = "pipx"

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self) -> str:
        return "pipx environment"

    def process(self, output: list[str]) -> dict[str, str]:
        values: dict[str, str] = {}
        for line in output:
            key, sep, value = line.strip().partition("=")
            if sep and key.startswith("PIPX_") and value:
                values[key] = value
        return values
