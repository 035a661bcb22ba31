"""Facts about RubyGems: installed gems."""

from __future__ import annotations

import re

from pyinfra.facts._packages import PackagesFact, PackageVersions, add_version

# "rake (13.0.6)", "bundler (2.4.10, default: 2.3.5)"
GEM_LINE = re.compile(r"^(?P<name>\S+)\s+\((?P<versions>[^)]*)\)$")


class GemPackages(PackagesFact):
    """Installed gems: ``{"name": {"version", ...}}`` (every installed version)."""

    requires_command = "gem"

    def command(self) -> str:
        return "gem list --local"

    def process(self, output: list[str]) -> PackageVersions:
        packages: PackageVersions = {}
        for line in output:
            match = GEM_LINE.match(line.strip())
            if not match:
                continue
            for version in match.group("versions").split(","):
                version = version.replace("default:", "").strip()
                if version:
                    add_version(packages, match.group("name"), version)
        return packages
