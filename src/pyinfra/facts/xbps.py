"""Facts about XBPS (Void Linux): installed packages."""

from __future__ import annotations

import re

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackageVersions, parse_name_version_lines

# "ii vim-9.0.2_1 Vi improved": state, pkgver (name-version_revision), description
XBPS_LINE = re.compile(r"^\S+\s+(?P<name>\S+)-(?P<version>[^-\s]+_\d+)(?:\s|$)")


class XbpsPackages(FactBase[PackageVersions]):
    """Installed XBPS packages: ``{"name": {"version_revision"}}``."""

    requires_command = "xbps-query"

    @staticmethod
    def default() -> PackageVersions:
        return {}

    def command(self) -> str:
        return "xbps-query -l"

    def process(self, output: list[str]) -> PackageVersions:
        return parse_name_version_lines(output, XBPS_LINE)
