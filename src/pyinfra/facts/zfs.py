"""ZFS pools and datasets with their properties (``zpool get``, ``zfs get``)."""

from __future__ import annotations

from typing import Any

from pyinfra.api.facts import FactBase, ShortFactBase


def parse_properties(output: list[str]) -> dict[str, dict[str, str]]:
    """``NAME<TAB>PROPERTY<TAB>VALUE<TAB>SOURCE`` lines -> ``{name: {property: value}}``."""
    objects: dict[str, dict[str, str]] = {}
    for line in output:
        fields = line.split("\t")
        if len(fields) >= 3:
            objects.setdefault(fields[0], {})[fields[1]] = fields[2]
    return objects


class ZfsPools(FactBase["dict[str, dict[str, str]]"]):
    """``{pool: {property: value}}`` (``zpool get -H all``)."""

    requires_command = "zpool"

    @staticmethod
    def default() -> dict[str, dict[str, str]]:
        return {}

    def command(self) -> str:
        return "zpool get -H all"

    def process(self, output: list[str]) -> dict[str, dict[str, str]]:
        return parse_properties(output)


class ZfsDatasets(FactBase["dict[str, dict[str, str]]"]):
    """``{dataset: {property: value}}`` for filesystems, volumes and snapshots
    (``zfs get -H all``); empty while the zfs kernel module is not loaded."""

    requires_command = "zfs"

    @staticmethod
    def default() -> dict[str, dict[str, str]]:
        return {}

    def command(self) -> str:
        # Without the kernel module there are no datasets (and zfs would fail).
        return (
            "if [ -e /proc/modules ] && ! grep -q '^zfs ' /proc/modules; then exit 0; fi; "
            "zfs get -H all"
        )

    def process(self, output: list[str]) -> dict[str, dict[str, str]]:
        return parse_properties(output)


class _ZfsOfType(ShortFactBase["dict[str, dict[str, str]]"]):
    fact = ZfsDatasets
    kind = ""

    def process_data(self, data: Any) -> dict[str, dict[str, str]]:
        return {name: props for name, props in data.items() if props.get("type") == self.kind}


class ZfsFilesystems(_ZfsOfType):
    """The datasets of type ``filesystem``."""

    kind = "filesystem"


class ZfsSnapshots(_ZfsOfType):
    """The datasets of type ``snapshot``."""

    kind = "snapshot"


class ZfsVolumes(_ZfsOfType):
    """The datasets of type ``volume``."""

    kind = "volume"


# Older names.
Pools = ZfsPools
Datasets = ZfsDatasets
Filesystems = ZfsFilesystems
Snapshots = ZfsSnapshots
Volumes = ZfsVolumes
