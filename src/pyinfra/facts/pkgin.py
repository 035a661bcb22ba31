"""Facts about pkgin (pkgsrc: NetBSD, SmartOS, macOS...): installed packages."""

from __future__ import annotations

import re

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackageVersions, parse_name_version_lines

# "vim-9.0.2 Vi IMproved" or "vim-9.0.2;Vi IMproved" (pkgin -p)
PKGIN_LINE = re.compile(r"^(?P<name>\S+?)-(?P<version>[0-9][^\s;]*)(?:[\s;]|$)")


class PkginPackages(FactBase[PackageVersions]):
    """Installed pkgin packages: ``{"name": {"version"}}``."""

    requires_command = "pkgin"

    @staticmethod
    def default() -> PackageVersions:
        return {}

    def command(self) -> str:
        return "pkgin list"

    def process(self, output: list[str]) -> PackageVersions:
        return parse_name_version_lines(output, PKGIN_LINE)
