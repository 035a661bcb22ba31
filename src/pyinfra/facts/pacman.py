"""Facts about pacman (Arch Linux): installed packages, group expansion."""

from __future__ import annotations

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import NAME_SPACE_VERSION, PackageVersions, parse_name_version_lines


class PacmanPackages(FactBase[PackageVersions]):
    """Installed pacman packages: ``{"name": {"version-rel"}}``."""

    requires_command = "pacman"

    @staticmethod
    def default() -> PackageVersions:
        return {}

    def command(self) -> str:
        return "pacman -Q || true"  # exits 1 when nothing is installed

    def process(self, output: list[str]) -> PackageVersions:
        return parse_name_version_lines(output, NAME_SPACE_VERSION)


class PacmanUnpackGroup(FactBase["list[str]"]):
    """The packages a name stands for: the members of a group, the provider of a
    virtual package, or the package itself (``[]`` when pacman knows no such name)."""

    requires_command = "pacman"

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self, package: str) -> StringCommand:
        return StringCommand(
            "pacman", "-S", "--print-format", "%n", QuoteString(package), "2>/dev/null",
            "||", "true",
        )  # fmt: skip

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip() and " " not in line.strip()]
