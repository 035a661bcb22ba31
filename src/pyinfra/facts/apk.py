"""Facts about apk (Alpine Linux): installed packages."""

from __future__ import annotations

import re

from pyinfra.facts._packages import PackagesFact

# "musl-1.2.4-r2 x86_64 {musl} (MIT) [installed]": the version is the last two dash parts.
APK_LINE = re.compile(r"^(?P<name>\S+?)-(?P<version>[0-9][^-\s]*-r\d+)(?:\s|$)")


class ApkPackages(PackagesFact):
    """Installed apk packages: ``{"name": {"version"}}`` (versions like ``1.2.4-r2``)."""

    requires_command = "apk"
    pattern = APK_LINE

    def command(self) -> str:
        return "apk list --installed"
