"""Facts about cargo: globally installed crates (``cargo install``)."""

from __future__ import annotations

import re

from pyinfra.facts._packages import PackagesFact, PackageVersions

# "ripgrep v13.0.0:" or "bat v0.24.0 (/src/bat):" (binaries follow, indented)
CARGO_LINE = re.compile(r"^(?P<name>\S+)\s+v(?P<version>\S+?)(?:\s+\(.*\))?:$")


class CargoPackages(PackagesFact):
    """Crates installed with ``cargo install``: ``{"name": {"version"}}``."""

    requires_command = "cargo"
    pattern = CARGO_LINE

    def command(self) -> str:
        return "cargo install --list"

    def process(self, output: list[str]) -> PackageVersions:
        return super().process([line for line in output if line[:1] != " "])
