"""Facts about dpkg: the installed packages, one package or ``.deb`` file, the architecture."""

from __future__ import annotations

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackagesFact, PackageVersions, add_version

# db:Status-Abbrev is three letters: wanted state, current state, error flag.
DPKG_LIST_COMMAND = "dpkg-query -W -f='${db:Status-Abbrev}\\t${Package}\\t${Version}\\n'"


def parse_dpkg_list(lines: list[str]) -> PackageVersions:
    """``{name: {version}}`` of the packages dpkg has installed (wanted install or hold)."""
    packages: PackageVersions = {}
    for line in lines:
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        status, name, version = parts[0].strip(), parts[1].strip(), parts[2].strip()
        if len(status) >= 2 and status[0] in "ih" and status[1] == "i" and name:
            add_version(packages, name, version)
    return packages


class DebArch(FactBase["str | None"]):
    """The dpkg architecture used in apt sources, e.g. ``amd64``."""

    requires_command = "dpkg"
    stable = True

    def command(self) -> str:
        return "dpkg --print-architecture"

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() if output else None


class DebPackages(PackagesFact):
    """Installed dpkg packages: ``{"name": {"version"}}``.

    Packages on hold count as installed; removed packages whose configuration files
    remain do not. Architecture qualifiers are dropped (``libc6:i386`` is ``libc6``).
    """

    requires_command = "dpkg-query"

    def command(self) -> str:
        return DPKG_LIST_COMMAND

    def process(self, output: list[str]) -> PackageVersions:
        return parse_dpkg_list(output)


class DebPackage(FactBase["dict[str, str] | None"]):
    """``{"name", "version"}`` of a ``.deb`` file, or of an installed package, or ``None``.

    A name matching ``*.deb`` that is an existing file is read as an archive (relative
    names from the current directory); any other name is looked up in dpkg's database.
    """

    requires_command = "dpkg"

    def command(self, package: str) -> StringCommand:
        quoted = QuoteString(package)
        archive = StringCommand("dpkg-deb", "-f", quoted, "Package", "Version")
        installed = StringCommand(
            "dpkg-query", "-W", "-f='Package: ${Package}\\nVersion: ${Version}\\n'",
            "--", quoted, "2>/dev/null", "||", "true",
        )  # fmt: skip
        return StringCommand(
            "case", quoted, "in", "*.deb)", "if", "[", "-f", quoted, "];", "then", archive,
            ";", "else", installed, ";", "fi", ";;", "*)", installed, ";;", "esac",
        )  # fmt: skip

    def process(self, output: list[str]) -> dict[str, str] | None:
        info: dict[str, str] = {}
        for line in output:
            key, _, value = line.strip().partition(":")
            if key == "Package":
                info["name"] = value.strip()
            elif key == "Version":
                info["version"] = value.strip()
        if not info.get("name") or not info.get("version"):
            return None
        return info
