"""Facts about pipx: installed applications and pipx's environment."""

from __future__ import annotations

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import NAME_SPACE_VERSION, PackageVersions, parse_name_version_lines


class PipxPackages(FactBase[PackageVersions]):
    """Applications installed with pipx: ``{"name": {"version"}}``."""

    requires_command = "pipx"

    @staticmethod
    def default() -> PackageVersions:
        return {}

    def command(self) -> str:
        return "pipx list --short"

    def process(self, output: list[str]) -> PackageVersions:
        return parse_name_version_lines(output, NAME_SPACE_VERSION)


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
