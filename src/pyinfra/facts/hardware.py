"""Hardware: CPUs, memory, block devices, network interfaces and their addresses."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from pyinfra.api.facts import FactBase, ShortFactBase

logger = logging.getLogger("pyinfra")


class Cpus(FactBase["int | None"]):
    """Number of online CPUs (``getconf``, else ``nproc``)."""

    def command(self) -> str:
        return (
            "getconf NPROCESSORS_ONLN 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || nproc"
        )

    def process(self, output: list[str]) -> int | None:
        try:
            return int(output[0])
        except ValueError:
            return None


class CpuInfo(FactBase["dict[str, Any] | None"]):
    """``lscpu`` as a dict (``{"Architecture": "x86_64", "CPU(s)": "4", ...}``); the
    flags line is a list."""

    requires_command = "lscpu"

    def command(self) -> str:
        return "LANG=C lscpu"

    def process(self, output: list[str]) -> dict[str, Any] | None:
        info: dict[str, Any] = {}
        for line in output:
            key, _, value = line.partition(":")
            key = key.strip()
            info[key] = value.strip().split() if "flag" in key.lower() else value.strip()
        return info or None


# BSD's ``vmstat -s`` gives pages: these are the pools that make up the memory.
_BSD_PAGE_POOLS = (
    "pages active", "pages inactive", "pages wired down", "pages free",
    "pages in the laundry queue",
)  # fmt: skip


class Memory(FactBase["int | None"]):
    """Installed memory in MiB (``vmstat -s``, else ``/proc/meminfo``)."""

    def command(self) -> str:
        return (
            "if command -v vmstat >/dev/null 2>&1 && LANG=C vmstat -s 2>/dev/null; then :; "
            "elif [ -r /proc/meminfo ]; then "
            "awk '/^MemTotal:/ {print $2 \" K total memory\"}' /proc/meminfo; fi"
        )

    def process(self, output: list[str]) -> int | None:
        data: dict[str, float] = {}
        for line in output:
            value, _, key = line.strip().partition(" ")
            try:
                data[key.strip()] = float(value)
            except ValueError:
                continue
        total_kib = data.get("K total memory", data.get("total memory"))
        if not total_kib:
            page = data.get("bytes per page")
            pages = data.get("pages managed") or sum(data.get(k, 0) for k in _BSD_PAGE_POOLS)
            if page and pages:
                total_kib = pages * page / 1024
        return int(round(total_kib / 1024)) if total_kib else None


_DF_LINE = re.compile(
    r"([a-zA-Z0-9/\-_]+)\s+([0-9]+)\s+([0-9]+)\s+([0-9]+)\s+([0-9]{1,3})%\s+([a-zA-Z/0-9\-_]+)"
)


class BlockDevices(FactBase["dict[str, dict[str, str]]"]):
    """Mounted block devices from ``df``: ``{device: {"blocks", "used", "available",
    "used_percent", "mount"}}`` (values as ``df`` prints them)."""

    @staticmethod
    def default() -> dict[str, dict[str, str]]:
        return {}

    def command(self) -> str:
        return "df"

    def process(self, output: list[str]) -> dict[str, dict[str, str]]:
        devices = {}
        for line in output:
            match = _DF_LINE.match(line)
            if match and match.group(1) != "none":
                devices[match.group(1)] = dict(
                    zip(
                        ("blocks", "used", "available", "used_percent", "mount"),
                        match.groups()[1:],
                        strict=True,
                    )
                )
        return devices


def mask_bits_and_netmask(value: str) -> tuple[int, str]:
    """``24``, ``0xffffff00`` or ``255.255.255.0`` -> ``(24, "255.255.255.0")``."""
    try:
        bits = int(value, 16).bit_count() if value.startswith("0x") else int(value)
    except ValueError:
        return sum(int(part).bit_count() for part in value.split(".")), value
    mask = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF if bits else 0
    return bits, ".".join(str((mask >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def _add_address(device: dict[str, Any], family: str, address: dict[str, Any]) -> None:
    if family not in device:
        device[family] = address
    else:
        device[family].setdefault("additional_ips", []).append(address)


def _from_ip_json(text: str) -> dict[str, dict[str, Any]]:
    devices: dict[str, dict[str, Any]] = {}
    try:
        decoded = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        logger.error("could not decode `ip -j addr` output")
        return devices
    for info in decoded:
        device: dict[str, Any] = {"state": info.get("operstate") or "UNKNOWN"}
        if "address" in info:
            device["ether"] = info["address"]
        if "mtu" in info:
            device["mtu"] = info["mtu"]
        for addr in info.get("addr_info", []):
            family = {"inet": "ipv4", "inet6": "ipv6"}.get(addr.get("family", ""))
            if family is None or "local" not in addr:
                continue
            entry: dict[str, Any] = {"address": addr["local"]}
            if family == "ipv4":
                entry["broadcast"] = addr.get("broadcast")
            if "prefixlen" in addr:
                entry["mask_bits"] = addr["prefixlen"]
                if family == "ipv4":
                    entry["netmask"] = mask_bits_and_netmask(str(addr["prefixlen"]))[1]
            _add_address(device, family, entry)
        if "ifname" in info:
            devices[info["ifname"]] = device
    return devices


_IPV4 = (
    re.compile(  # ip addr
        r"inet (?P<address>\d+\.\d+\.\d+\.\d+)/(?P<mask>\d+)(?: metric \d+)?"
        r"(?: brd (?P<broadcast>\d+\.\d+\.\d+\.\d+))?"
    ),
    re.compile(  # ifconfig
        r"inet (?:addr:)?(?P<address>\d+\.\d+\.\d+\.\d+)\s+netmask\s+"
        r"(?P<mask>\d+\.\d+\.\d+\.\d+|[0-9a-fA-FxX]+)(?:\s+broadcast\s+(?P<broadcast>\d+\.\d+\.\d+\.\d+))?"
    ),
)
_IPV6 = (
    re.compile(r"inet6\s+(?P<address>[0-9a-fA-F:]+)/(?P<mask>\d+)"),
    # ifconfig; BSD adds the scope to link-local addresses: fe80::1%em0
    re.compile(r"inet6\s+(?P<address>[0-9a-fA-F:]+)(?:%\S+)?\s+prefixlen\s+(?P<mask>\d+)"),
)


def _from_text(lines: list[str]) -> dict[str, dict[str, Any]]:
    """``ip addr`` or ``ifconfig -a`` text output."""
    text = "\n".join(line.strip() for line in lines)
    devices: dict[str, dict[str, Any]] = {}
    for section in re.split(r"\n(?=\d+: [^\s/:]|[^\s/:]+:.*mtu )", text):
        name = re.match(r"^(?:\d+: )?([^\s/:]+):", section)
        if not name:
            continue
        device: dict[str, Any] = {
            "state": "UP" if "UP" in section else "DOWN" if "DOWN" in section else "UNKNOWN"
        }
        ether = re.search(r"ether ([0-9A-Fa-f:]{17})", section)
        mtu = re.search(r"mtu (\d+)", section)
        if ether:
            device["ether"] = ether.group(1)
        if mtu:
            device["mtu"] = int(mtu.group(1))
        for pattern in _IPV4:
            found = list(pattern.finditer(section))
            for match in found:
                bits, netmask = mask_bits_and_netmask(match.group("mask"))
                _add_address(
                    device,
                    "ipv4",
                    {
                        "address": match.group("address"),
                        "mask_bits": bits,
                        "netmask": netmask,
                        "broadcast": match.group("broadcast"),
                    },
                )
            if found:
                break
        for pattern in _IPV6:
            found = list(pattern.finditer(section))
            for match in found:
                _add_address(
                    device,
                    "ipv6",
                    {"address": match.group("address"), "mask_bits": int(match.group("mask"))},
                )
            if found:
                break
        devices[name.group(1)] = device
    return devices


class NetworkDevices(FactBase["dict[str, dict[str, Any]]"]):
    """Network interfaces: ``{name: {"state", "ether", "mtu", "ipv4": {"address",
    "mask_bits", "netmask", "broadcast", "additional_ips"?}, "ipv6": {...}}}``
    (``ip -j addr``, else ``ip addr``, else ``ifconfig -a``)."""

    @staticmethod
    def default() -> dict[str, dict[str, Any]]:
        return {}

    def command(self) -> str:
        return "ip -j addr show 2>/dev/null || ip addr show 2>/dev/null || ifconfig -a"

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        if "".join(line.strip() for line in output[:2]).startswith("[{"):
            return _from_ip_json("\n".join(output))
        return _from_text(output)


class Ipv4Addrs(ShortFactBase["dict[str, list[str]]"]):
    """``{interface: [IPv4 addresses]}`` (interfaces without one are left out)."""

    fact = NetworkDevices
    family = "ipv4"

    def process_data(self, data: Any) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, device in data.items():
            info = device.get(self.family)
            if info and info.get("address"):
                extra = [a["address"] for a in info.get("additional_ips", [])]
                out[name] = [info["address"], *extra]
        return out


class Ipv6Addrs(Ipv4Addrs):
    """``{interface: [IPv6 addresses]}`` (interfaces without one are left out)."""

    family = "ipv6"


class Ipv4Addresses(ShortFactBase["dict[str, str]"]):
    """``{interface: first IPv4 address}`` (older form of :class:`Ipv4Addrs`)."""

    fact = NetworkDevices
    family = "ipv4"

    def process_data(self, data: Any) -> dict[str, str]:
        return {
            name: device[self.family]["address"]
            for name, device in data.items()
            if device.get(self.family) and device[self.family].get("address")
        }


class Ipv6Addresses(Ipv4Addresses):
    """``{interface: first IPv6 address}`` (older form of :class:`Ipv6Addrs`)."""

    family = "ipv6"
