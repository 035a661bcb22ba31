"""Facts about cargo: globally installed crates (``cargo install``)."""

from __future__ import annotations

import re

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackageVersions, parse_name_version_lines

# "ripgrep v13.0.0:" or "bat v0.24.0 (/src/bat):" (binaries follow, indented)
CARGO_LINE = re.compile(r"^(?P<name>\S+)\s+v(?P<version>\S+?)(?:\s+\(.*\))?:$")


class CargoPackages(FactBase[PackageVersions]):
    """Crates installed with ``cargo install``: ``{"name": {"version"}}``."""

    requires_command = "cargo"

    @staticmethod
    def default() -> PackageVersions:
        return {}

    def command(self) -> str:
        return "cargo install --list"

    def process(self, output: list[str]) -> PackageVersions:
        return parse_name_version_lines([line for line in output if line[:1] != " "], CARGO_LINE)
