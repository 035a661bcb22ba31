"""Parsing helpers shared by the package-manager facts (private).

Every "installed packages" fact of pyinfra 3.x returns ``{name: {version, ...}}``: a
set of versions per name (several when a manager keeps more than one installed, like
multi-arch dpkg or kernels in rpm).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase

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


class PackagesFact(FactBase[PackageVersions]):
    """Base of the installed-packages facts: ``{}`` where the manager is missing or
    lists nothing; by default ``process`` reads the lines ``pattern`` matches (groups
    ``name`` and ``version``, as :func:`parse_name_version_lines` does)."""

    abstract = True
    pattern: re.Pattern[str] = NAME_SPACE_VERSION

    @staticmethod
    def default() -> PackageVersions:
        return {}

    def process(self, output: list[str]) -> PackageVersions:
        return parse_name_version_lines(output, self.pattern)


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


# The probe an operation reads before changing anything --------------------------------

PROBE_MISSING = "__pyinfra_probe_missing__"
PROBE_NOT_ROOT = "__pyinfra_probe_not_root__"
PROBE_EXIT = "__pyinfra_probe_exit__"


class ProbeResult(dict[str, Any]):
    """``{"status": "ok" | "missing" | "not_root", "exit_code": int, "lines": [...]}``."""


class ManagerProbe(FactBase[ProbeResult]):
    """Can ``tool`` run here with the privileges it needs, and what does ``simulate``
    (a read-only dry run of the change, e.g. ``apt-get -s install vim``) print?

    One round trip, run only when an operation is about to change something. ``token``
    identifies the package state the simulation is about, so a cached result is
    never reused after that state changed.
    """

    @staticmethod
    def default() -> ProbeResult:
        return ProbeResult(status="ok", exit_code=0, lines=[])

    def command(
        self, tool: str, simulate: str = "", needs_root: bool = True, token: str = ""
    ) -> StringCommand:
        checks: list[Any] = [
            "if", "!", "command", "-v", QuoteString(tool), ">/dev/null", "2>&1;",
            "then", "echo", PROBE_MISSING, ";",
        ]  # fmt: skip
        if needs_root:
            checks += ["elif", "[", '"$(id -u)"', "!=", "0", "];"]
            checks += ["then", "echo", PROBE_NOT_ROOT, ";"]
        run = simulate or "true"
        return StringCommand(
            *checks, "else", "(", "LC_ALL=C", run, ")", "2>&1", "</dev/null;",
            "echo", f'"{PROBE_EXIT} $?";', "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> ProbeResult:
        if PROBE_MISSING in output:
            return ProbeResult(status="missing", exit_code=127, lines=[])
        if PROBE_NOT_ROOT in output:
            return ProbeResult(status="not_root", exit_code=1, lines=[])
        code = 0
        lines: list[str] = []
        for line in output:
            if line.startswith(PROBE_EXIT):
                code = int(line.split()[-1])
            else:
                lines.append(line)
        return ProbeResult(status="ok", exit_code=code, lines=lines)
