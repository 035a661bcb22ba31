"""Facts about Chocolatey (Windows): installed packages, version."""

from __future__ import annotations

import re

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackagesFact, PackageVersions

# "git 2.43.0" (choco list, Chocolatey 2: local packages only); banner/summary skipped
CHOCO_LINE = re.compile(r"^(?P<name>[^\s]+)\s+(?P<version>[0-9][^\s]*)$")


class ChocoPackages(PackagesFact):
    """Installed Chocolatey packages: ``{"name": {"version"}}``."""

    pattern = CHOCO_LINE

    def command(self) -> str:
        return "choco list"

    def process(self, output: list[str]) -> PackageVersions:
        return super().process([line for line in output if not line.startswith("Chocolatey v")])


class ChocoVersion(FactBase["str | None"]):
    """The Chocolatey version (``choco --version``)."""

    def command(self) -> str:
        return "choco --version"

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() if output else None
