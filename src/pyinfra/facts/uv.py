"""Facts about uv: its version and directories, tools, Python installations, packages."""

from __future__ import annotations

from typing import Any

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackageVersions, add_version
from pyinfra.facts.parsing import first_line, parse_json


class _UvFact(FactBase[Any]):
    abstract = True
    requires_command = "uv"


class UvVersion(_UvFact):
    """``uv --version``, e.g. ``uv 0.8.5``."""

    @staticmethod
    def default() -> str:
        return ""

    def command(self) -> str:
        return "uv --version"

    def process(self, output: list[str]) -> str:
        return first_line(output)


class _UvDir(_UvFact):
    abstract = True
    what = ""

    @staticmethod
    def default() -> str:
        return ""

    def command(self) -> str:
        return f"uv {self.what} dir 2>/dev/null"

    def process(self, output: list[str]) -> str:
        return first_line(output)


class UvToolDir(_UvDir):
    """The directory uv installs tools into."""

    what = "tool"


class UvPythonDir(_UvDir):
    """The directory uv installs Python versions into."""

    what = "python"


class UvTools(_UvFact):
    """Installed tools: ``{"pyinfra": {"3.4.1"}}``."""

    @staticmethod
    def default() -> PackageVersions:
        return {}

    def command(self) -> str:
        return "uv tool list 2>/dev/null"

    def process(self, output: list[str]) -> PackageVersions:
        tools: PackageVersions = {}
        for line in output:
            parts = line.split()
            if len(parts) >= 2 and not line.startswith("-") and parts[1].startswith("v"):
                add_version(tools, parts[0], parts[1][1:])
        return tools


class UvPipPackages(_UvFact):
    """Packages of the environment ``uv pip`` works on: ``{"requests": {"2.32.5"}}``."""

    @staticmethod
    def default() -> PackageVersions:
        return {}

    def command(self) -> str:
        return "uv pip list --format json"

    def process(self, output: list[str]) -> PackageVersions:
        packages: PackageVersions = {}
        for item in parse_json(output):
            add_version(packages, item["name"], item["version"])
        return packages


class _UvPythons(_UvFact):
    abstract = True
    installed_only = True
    by_version = True

    @staticmethod
    def default() -> dict[str, set[str]]:
        return {}

    def command(self, is_managed: bool = True) -> str:
        managed = "--managed-python " if is_managed else ""
        only = "--only-installed " if self.installed_only else ""
        return f"uv python list {managed}{only}--output-format=json"

    def process(self, output: list[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for item in parse_json(output):
            key, version = item["key"], item["version"]
            if self.by_version:
                add_version(found, version, key)
            else:
                add_version(found, key, version)
        return found


class UvInstalledPythonsByVersion(_UvPythons):
    """Installed Pythons by version: ``{"3.13.4": {"cpython-3.13.4-..."}}``
    (only uv-managed ones unless ``is_managed=False``)."""


class UvInstalledPythonsByImplementation(_UvPythons):
    """Installed Pythons by implementation key: ``{"cpython-3.13.4-...": {"3.13.4"}}``."""

    by_version = False


class UvAvailablePythonsByVersion(_UvPythons):
    """Pythons uv can install (and installed ones), by version."""

    installed_only = False


class UvAvailablePythonsByImplementation(_UvPythons):
    """Pythons uv can install (and installed ones), by implementation key."""

    installed_only = False
    by_version = False
