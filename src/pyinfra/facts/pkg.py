"""Facts about BSD packages (FreeBSD ``pkg``, OpenBSD/NetBSD ``pkg_info``)."""

from __future__ import annotations

import re

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackageVersions, parse_name_version_lines

# "vim-9.0.2  Vi improved": the version starts at the last dash followed by a digit.
PKG_LINE = re.compile(r"^(?P<name>\S+)-(?P<version>[0-9][^-\s]*)(?:\s|$)")


class PkgPackages(FactBase[PackageVersions]):
    """Installed packages (``pkg info``, else ``pkg_info``): ``{"name": {"version"}}``."""

    @staticmethod
    def default() -> PackageVersions:
        return {}

    def command(self) -> str:
        return "pkg info 2>/dev/null || pkg_info 2>/dev/null || true"

    def process(self, output: list[str]) -> PackageVersions:
        return parse_name_version_lines(output, PKG_LINE)
