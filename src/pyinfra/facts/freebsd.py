"""FreeBSD: rc(8) scripts and their status (``service``), rc.conf values (``sysrc``),
installed packages (``pkg info``); each optionally inside a jail."""

from __future__ import annotations

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase


def _jail(jail: str | None, flag: str = "-j") -> list[object]:
    return [flag, QuoteString(jail)] if jail is not None else []


class ServiceScript(FactBase["str | None"]):
    """``srvname`` if an rc(8) script of that name exists (``service -l``), else ``None``."""

    def command(self, srvname: str, jail: str | None = None) -> StringCommand:
        return StringCommand(
            "service", *_jail(jail), "-l", "|", "grep", "-x", "-F", "--", QuoteString(srvname),
            "|| true",
        )  # fmt: skip

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() or None


class ServiceStatus(FactBase["str | None"]):
    """``"running"`` if ``service SRVNAME status`` succeeds, else ``None``."""

    def command(self, srvname: str, jail: str | None = None) -> StringCommand:
        return StringCommand(
            "service", *_jail(jail), QuoteString(srvname), "status", ">/dev/null 2>&1",
            "&& echo running || true",
        )  # fmt: skip

    def process(self, output: list[str]) -> str | None:
        return output[0].strip() or None


class Sysrc(FactBase["str | None"]):
    """The value of an rc.conf ``parameter`` (``sysrc -n``), ``None`` if it is unset."""

    def command(self, parameter: str, jail: str | None = None) -> StringCommand:
        return StringCommand("sysrc", *_jail(jail), "-in", "--", QuoteString(parameter), "|| true")

    def process(self, output: list[str]) -> str | None:
        return "\n".join(output)


class PkgPackage(FactBase["str | None"]):
    """``package`` if it is installed (``pkg info -E``), else ``None``."""

    def command(self, package: str, jail: str | None = None) -> StringCommand:
        return StringCommand(
            "pkg", *_jail(jail), "info", "-E", "--", QuoteString(package), "2>/dev/null || true"
        )

    def process(self, output: list[str]) -> str | None:
        return "\n".join(output)
