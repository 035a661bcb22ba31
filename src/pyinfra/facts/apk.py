"""Facts about apk (Alpine Linux): installed packages."""

from __future__ import annotations

import re

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackageVersions, parse_name_version_lines

# "musl-1.2.4-r2 x86_64 {musl} (MIT) [installed]": the version is the last two dash parts.
APK_LINE = re.compile(r"^(?P<name>\S+?)-(?P<version>[0-9][^-\s]*-r\d+)(?:\s|$)")


class ApkPackages(FactBase[PackageVersions]):
    """Installed apk packages: ``{"name": {"version"}}`` (versions like ``1.2.4-r2``)."""

    requires_command = "apk"

    @staticmethod
    def default() -> PackageVersions:
        return {}

    def command(self) -> str:
        return "apk list --installed"

    def process(self, output: list[str]) -> PackageVersions:
        return parse_name_version_lines(output, APK_LINE)
