"""Facts about pacman (Arch Linux): installed packages, group expansion."""

from __future__ import annotations

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackagesFact


class PacmanPackages(PackagesFact):
    """Installed pacman packages: ``{"name": {"version-rel"}}``."""

    requires_command = "pacman"

    def command(self) -> str:
        return "pacman -Q || true"  # exits 1 when nothing is installed


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
