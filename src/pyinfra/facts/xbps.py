"""Facts about XBPS (Void Linux): installed packages."""

from __future__ import annotations

import re

from pyinfra.facts._packages import PackagesFact

# "ii vim-9.0.2_1 Vi improved": state, pkgver (name-version_revision), description
XBPS_LINE = re.compile(r"^\S+\s+(?P<name>\S+)-(?P<version>[^-\s]+_\d+)(?:\s|$)")


class XbpsPackages(PackagesFact):
    """Installed XBPS packages: ``{"name": {"version_revision"}}``."""

    requires_command = "xbps-query"
    pattern = XBPS_LINE

    def command(self) -> str:
        return "xbps-query -l"
