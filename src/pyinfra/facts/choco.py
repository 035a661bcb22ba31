"""Facts about Chocolatey (Windows): installed packages, version."""

from __future__ import annotations

import re

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackageVersions, parse_name_version_lines

# "git 2.43.0" (choco list, Chocolatey 2: local packages only); banner/summary skipped
CHOCO_LINE = re.compile(r"^(?P<name>[^\s]+)\s+(?P<version>[0-9][^\s]*)$")


class ChocoPackages(FactBase[PackageVersions]):
    """Installed Chocolatey packages: ``{"name": {"version"}}``."""

    @staticmethod
    def default() -> PackageVersions:
        return {}

    def command(self) -> str:
        return "choco list"

    def process(self, output: list[str]) -> PackageVersions:
        return parse_name_version_lines(
            [line for line in output if not line.startswith("Chocolatey v")], CHOCO_LINE
        )


class ChocoVersion(FactBase["str | None"]):
    """The Chocolatey version (``choco --version``)."""

    def command(self) -> str:
        return "choco --version"

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() if output else None
