"""Facts about BSD packages (FreeBSD ``pkg``, OpenBSD/NetBSD ``pkg_info``)."""

from __future__ import annotations

import re

from pyinfra.facts._packages import PackagesFact

# "vim-9.0.2  Vi improved": the version starts at the last dash followed by a digit.
PKG_LINE = re.compile(r"^(?P<name>\S+)-(?P<version>[0-9][^-\s]*)(?:\s|$)")


class PkgPackages(PackagesFact):
    """Installed packages (``pkg info``, else ``pkg_info``): ``{"name": {"version"}}``."""

    pattern = PKG_LINE

    def command(self) -> str:
        return "pkg info 2>/dev/null || pkg_info 2>/dev/null || true"
