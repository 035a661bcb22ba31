"""Facts about pkgin (pkgsrc: NetBSD, SmartOS, macOS...): installed packages."""

from __future__ import annotations

import re

from pyinfra.facts._packages import PackagesFact

# "vim-9.0.2 Vi IMproved" or "vim-9.0.2;Vi IMproved" (pkgin -p)
PKGIN_LINE = re.compile(r"^(?P<name>\S+?)-(?P<version>[0-9][^\s;]*)(?:[\s;]|$)")


class PkginPackages(PackagesFact):
    """Installed pkgin packages: ``{"name": {"version"}}``."""

    requires_command = "pkgin"
    pattern = PKGIN_LINE

    def command(self) -> str:
        return "pkgin list"
