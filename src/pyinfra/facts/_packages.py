"""Parsing helpers shared by the package-manager facts (private).

Every "installed packages" fact of pyinfra 3.x returns ``{name: {version, ...}}``: a
set of versions per name (several when a manager keeps more than one installed, like
multi-arch dpkg or kernels in rpm).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

PackageVersions = dict[str, set[str]]


def add_version(packages: PackageVersions, name: str, version: str) -> None:
    packages.setdefault(name, set()).add(version)


def parse_name_version_lines(
    lines: Iterable[str], pattern: re.Pattern[str], lower: bool = False
) -> PackageVersions:
    """``{name: {version}}`` from lines matching ``pattern`` (groups ``name``, ``version``)."""
    packages: PackageVersions = {}
    for line in lines:
        match = pattern.match(line.strip())
        if match:
            name = match.group("name")
            add_version(packages, name.lower() if lower else name, match.group("version"))
    return packages


# "name version" separated by whitespace (pacman -Q, rpm query format, xbps...).
NAME_SPACE_VERSION = re.compile(r"^(?P<name>\S+)\s+(?P<version>\S+)$")


def parse_ini_sections(lines: Iterable[str], filename_marker: str) -> list[dict[str, str]]:
    """Sections of yum/dnf/zypper ``.repo`` files as dicts with ``repoid`` and ``filename``.

    The command prints ``<marker> PATH`` before each file; ``[id]`` starts a section and
    ``key=value`` lines fill it (continuation lines and comments are skipped); ``name``
    defaults to the section id.
    """
    repos: list[dict[str, str]] = []
    filename: str | None = None
    current: dict[str, str] | None = None
    for raw in lines:
        line = raw.strip()
        if line.startswith(filename_marker):
            filename = line[len(filename_marker) :].strip()
            current = None
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            repoid = line[1:-1].strip()
            current = {"repoid": repoid, "name": repoid}
            if filename is not None:
                current["filename"] = filename
            repos.append(current)
            continue
        if current is not None and "=" in line:
            key, value = line.split("=", 1)
            current[key.strip()] = value.strip()
    return repos
