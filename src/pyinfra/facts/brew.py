"""Facts about Homebrew (macOS, Linux): formulae, casks, taps, trust, version."""

from __future__ import annotations

import json
import re
from typing import Any

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackagesFact, PackageVersions, add_version


def _first_versions(output: list[str]) -> PackageVersions:
    """``name v1 [v2...]`` lines: the first (current) version of each."""
    packages: PackageVersions = {}
    for line in output:
        parts = line.split()
        if len(parts) >= 2:
            add_version(packages, parts[0], parts[1])
    return packages


class BrewVersion(FactBase["list[int]"]):
    """Homebrew's version as ``[major, minor, patch]``."""

    requires_command = "brew"

    @staticmethod
    def default() -> list[int]:
        return [0, 0, 0]

    def command(self) -> str:
        return "brew --version"

    def process(self, output: list[str]) -> list[int]:
        match = re.search(r"(\d+)\.(\d+)\.(\d+)", output[0] if output else "")
        return [int(g) for g in match.groups()] if match else self.default()


class BrewPackages(PackagesFact):
    """Installed formulae: ``{"name": {"version"}}`` (the current version)."""

    requires_command = "brew"

    def command(self) -> str:
        return "brew list --versions"

    def process(self, output: list[str]) -> PackageVersions:
        return _first_versions(output)


class BrewCasks(BrewPackages):
    """Installed casks: ``{"name": {"version"}}``."""

    def command(self) -> str:
        return (
            'if brew --version | grep -q -E "Homebrew +(1\\.|2\\.[0-5])"; '
            "then brew cask list --versions; else brew list --cask --versions; fi"
        )


class BrewTaps(FactBase["list[str]"]):
    """Tapped repositories: ``["homebrew/cask", ...]``."""

    requires_command = "brew"

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self) -> str:
        return "brew tap"

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if line.strip()]


BREW_TRUST_KINDS = ("casks", "commands", "formulae", "taps")


class BrewTrusted(FactBase["dict[str, list[str]]"]):
    """What ``brew trust`` has marked trusted: ``{"casks": [], "commands": [],
    "formulae": [], "taps": [...]}``."""

    requires_command = "brew"

    @staticmethod
    def default() -> dict[str, list[str]]:
        return {kind: [] for kind in BREW_TRUST_KINDS}

    def command(self) -> str:
        return "brew trust --json=v1"

    def process(self, output: list[str]) -> dict[str, list[str]]:
        data: Any = json.loads("\n".join(output) or "{}")
        result = self.default()
        for kind in BREW_TRUST_KINDS:
            values = data.get(kind) if isinstance(data, dict) else None
            if isinstance(values, list):
                result[kind] = sorted(str(v) for v in values)
        return result
