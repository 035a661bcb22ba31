"""Facts about snap: installed snaps."""

from __future__ import annotations

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase

_SNAP_INFO_KEYS = {
    "name": "name",
    "publisher": "publisher",
    "snap-id": "snap-id",
    "tracking": "channel",
}


class SnapBaseFact(FactBase["object"]):
    """Base of the snap facts (they need the ``snap`` program)."""

    abstract = True
    requires_command = "snap"


class SnapPackages(SnapBaseFact):
    """Names of the installed snaps: ``["core20", "lxd"]``."""

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self) -> str:
        return "snap list"

    def process(self, output: list[str]) -> list[str]:
        return [line.split()[0] for line in output[1:] if line.split()]


class SnapPackage(SnapBaseFact):
    """An installed snap: ``{"name", "publisher", "snap-id", "channel", "version"}``."""

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self, package: str) -> StringCommand:
        return StringCommand("snap", "info", QuoteString(package))

    def process(self, output: list[str]) -> dict[str, str]:
        info: dict[str, str] = {}
        for line in output:
            key, sep, value = line.partition(":")
            if not sep or line[:1].isspace():
                continue
            if key in _SNAP_INFO_KEYS:
                info[_SNAP_INFO_KEYS[key]] = value.strip()
            elif key == "installed":
                info["version"] = value.split()[0] if value.split() else ""
        return info
