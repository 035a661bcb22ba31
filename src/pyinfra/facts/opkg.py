"""Facts about opkg (OpenWrt): configuration, feeds, architectures, packages."""

from __future__ import annotations

from typing import NamedTuple

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import PackagesFact, PackageVersions, add_version


class OpkgConfInfo(NamedTuple):
    paths: dict[str, str]  # dest name -> path
    list_dir: str
    options: dict[str, str | bool]
    arch_cfg: dict[str, int]


class OpkgFeedInfo(NamedTuple):
    url: str
    fmt: str  # "src/gz" or "src"
    kind: str  # "distribution" or "custom"


class OpkgPkgUpgradeInfo(NamedTuple):
    installed: str
    available: str


class OpkgConf(FactBase[OpkgConfInfo]):
    """``/etc/opkg.conf`` as ``OpkgConfInfo(paths, list_dir, options, arch_cfg)``."""

    @staticmethod
    def default() -> OpkgConfInfo:
        return OpkgConfInfo({}, "", {}, {})

    def command(self) -> str:
        return "cat /etc/opkg.conf"

    def process(self, output: list[str]) -> OpkgConfInfo:
        paths: dict[str, str] = {}
        options: dict[str, str | bool] = {}
        arch: dict[str, int] = {}
        list_dir = ""
        for line in output:
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if parts[0] == "dest" and len(parts) >= 3:
                paths[parts[1]] = parts[2]
            elif parts[0] == "lists_dir" and len(parts) >= 3:
                list_dir = parts[2]
            elif parts[0] == "option" and len(parts) >= 2:
                options[parts[1]] = parts[2] if len(parts) >= 3 else True
            elif parts[0] == "arch" and len(parts) >= 3 and parts[2].isdigit():
                arch[parts[1]] = int(parts[2])
        return OpkgConfInfo(paths, list_dir, options, arch)


class OpkgFeeds(FactBase["dict[str, OpkgFeedInfo]"]):
    """Feeds of ``distfeeds.conf`` (kind ``distribution``) and ``customfeeds.conf``
    (kind ``custom``): ``{name: OpkgFeedInfo(url, fmt, kind)}``."""

    @staticmethod
    def default() -> dict[str, OpkgFeedInfo]:
        return {}

    def command(self) -> str:
        return "cat /etc/opkg/distfeeds.conf; echo CUSTOM; cat /etc/opkg/customfeeds.conf"

    def process(self, output: list[str]) -> dict[str, OpkgFeedInfo]:
        feeds: dict[str, OpkgFeedInfo] = {}
        kind = "distribution"
        for line in output:
            parts = line.split()
            if parts == ["CUSTOM"]:
                kind = "custom"
            elif len(parts) >= 3 and parts[0] in ("src", "src/gz"):
                feeds[parts[1]] = OpkgFeedInfo(parts[2], parts[0], kind)
        return feeds


class OpkgInstallableArchitectures(FactBase["dict[str, int]"]):
    """Architectures opkg installs, with their priority: ``{"all": 1, "noarch": 1}``."""

    @staticmethod
    def default() -> dict[str, int]:
        return {}

    def command(self) -> str:
        return "opkg print-architecture"

    def process(self, output: list[str]) -> dict[str, int]:
        return {
            p[1]: int(p[2])
            for p in (line.split() for line in output)
            if len(p) == 3 and p[0] == "arch" and p[2].isdigit()
        }


class OpkgPackages(PackagesFact):
    """Installed opkg packages: ``{"name": {"version"}}``."""

    def command(self) -> str:
        return "opkg list-installed"

    def process(self, output: list[str]) -> PackageVersions:
        packages: PackageVersions = {}
        for line in output:
            parts = [p.strip() for p in line.split(" - ")]
            if len(parts) >= 2 and parts[0]:
                add_version(packages, parts[0], parts[1])
        return packages


class OpkgUpgradeablePackages(FactBase["dict[str, OpkgPkgUpgradeInfo]"]):
    """Installed packages with a newer version available:
    ``{"name": OpkgPkgUpgradeInfo(installed="1.2.3", available="1.2.8")}``."""

    @staticmethod
    def default() -> dict[str, OpkgPkgUpgradeInfo]:
        return {}

    def command(self) -> str:
        return "opkg list-upgradable"

    def process(self, output: list[str]) -> dict[str, OpkgPkgUpgradeInfo]:
        found: dict[str, OpkgPkgUpgradeInfo] = {}
        for line in output:
            parts = [p.strip() for p in line.split(" - ")]
            if len(parts) >= 3:
                found[parts[0]] = OpkgPkgUpgradeInfo(parts[1], parts[2])
        return found
