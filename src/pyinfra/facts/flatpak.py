"""Facts about flatpak: installed applications and runtimes."""

from __future__ import annotations

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase

_INFO_KEYS = {"ID": "id", "Ref": "ref", "Version": "version"}


class FlatpakBaseFact(FactBase["object"]):
    """Base of the flatpak facts (they need the ``flatpak`` program)."""

    abstract = True
    requires_command = "flatpak"


class FlatpakPackage(FlatpakBaseFact):
    """An installed flatpak: ``{"id", "ref", "version"}``."""

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self, package: str) -> StringCommand:
        return StringCommand("flatpak", "info", QuoteString(package))

    def process(self, output: list[str]) -> dict[str, str]:
        info: dict[str, str] = {}
        for line in output:
            key, sep, value = line.strip().partition(":")
            if sep and key.strip() in _INFO_KEYS:
                info[_INFO_KEYS[key.strip()]] = value.strip()
        return info


class FlatpakPackages(FlatpakBaseFact):
    """Application ids of the installed flatpaks: ``["org.videolan.VLC", ...]``."""

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self) -> str:
        return "flatpak list --columns=application"

    def process(self, output: list[str]) -> list[str]:
        return [
            line.strip() for line in output if line.strip() and line.strip() != "Application ID"
        ]
