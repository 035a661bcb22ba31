"""Facts about rpm: installed packages, one package or ``.rpm`` file, providers."""

from __future__ import annotations

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackagesFact

RPM_FORMAT = "'%{NAME} %{VERSION}-%{RELEASE}\\n'"


class RpmPackages(PackagesFact):
    """Installed rpm packages: ``{"name": {"version-release"}}``."""

    requires_command = "rpm"

    def command(self) -> str:
        return f"rpm --queryformat {RPM_FORMAT} -qa"


class RpmPackage(FactBase["dict[str, str] | None"]):
    """``{"name", "version"}`` of an installed package, else of an ``.rpm`` file at that
    path, else ``None``."""

    requires_command = "rpm"

    def command(self, package: str) -> StringCommand:
        p = QuoteString(package)
        return StringCommand(
            "rpm", "--queryformat", RPM_FORMAT, "-q", p, "2>/dev/null", "||",
            "{", "[", "-e", p, "]", "&&", "rpm", "--queryformat", RPM_FORMAT, "-qp", p,
            "2>/dev/null;", "}", "||", "true",
        )  # fmt: skip

    def process(self, output: list[str]) -> dict[str, str] | None:
        for line in output:
            parts = line.split()
            if len(parts) == 2:
                return {"name": parts[0], "version": parts[1]}
        return None


class RpmPackageProvides(FactBase["list[list[str]]"]):
    """``[[name, version-release], ...]`` of the packages (installed or available) that
    provide a capability: a command, file or virtual name (``dnf repoquery``)."""

    requires_command = "dnf"

    @staticmethod
    def default() -> list[list[str]]:
        return []

    def command(self, package: str) -> StringCommand:
        return StringCommand(
            "dnf", "repoquery", "--quiet", "--queryformat", RPM_FORMAT,
            "--whatprovides", QuoteString(package), "||", "true",
        )  # fmt: skip

    def process(self, output: list[str]) -> list[list[str]]:
        return [line.split() for line in output if len(line.split()) == 2]


class RpmKeyImported(FactBase[bool]):
    """Whether rpm's database already has the (first) key of a key file on the host
    (its 8-hex-digit id as ``gpg-pubkey-<id>``); ``False`` when gpg cannot read it."""

    requires_command = "rpm"

    @staticmethod
    def default() -> bool:
        return False

    def command(self, src: str) -> StringCommand:
        return StringCommand(
            "id=$(gpg", "--with-colons", "--show-keys", QuoteString(src), "2>/dev/null", "|",
            "awk", "-F:", "'/^pub/ { print tolower(substr($5, 9)); exit }');",
            "[", "-n", '"$id"', "]", "&&", "rpm", "-q", '"gpg-pubkey-$id"', ">/dev/null",
            "2>&1", "&&", "echo", "yes", "||", "true",
        )  # fmt: skip

    def process(self, output: list[str]) -> bool:
        return any(line.strip() == "yes" for line in output)
