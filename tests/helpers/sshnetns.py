"""A chain of SSH hosts in network namespaces: this machine -> bastion -> middle -> internal.

Each host is a network namespace running its own sshd (``SSHServer(netns=...)``) on port
22, linked to its neighbours only by veth pairs; nothing forwards packets, so each host
reaches only the next one:

    root ns 10.231.N.1 --- 10.231.N.2 bastion 10.231.N+1.1 --- 10.231.N+1.2 middle
    middle 10.231.N+2.1 --- 10.231.N+2.2 internal

The root namespace gets an ``unreachable`` route for the whole 10.231.0.0/16 (the link
to the bastion stays more specific), so a direct attempt at the inner hosts fails right
here and no packet for them ever leaves the machine. Everything is torn down at exit
(veths first, then namespaces, then the route). Needs root and ``ip``; skips otherwise.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.helpers.sshd import SSHServer, require_root, require_sshd

NETWORK = "10.231.0.0/16"


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")


@dataclass
class Hop:
    name: str  # bastion / middle / internal
    netns: str
    address: str  # where its sshd listens (reachable from the previous hop only)
    server: SSHServer | None = None


@dataclass
class Topology:
    hops: dict[str, Hop] = field(default_factory=dict)

    def known_hosts_lines(self) -> str:
        return "".join(
            hop.server.known_hosts_lines() for hop in self.hops.values() if hop.server is not None
        )


@contextlib.contextmanager
def ssh_chain(subnet: int = 41) -> Iterator[Topology]:
    """Build the chain (``subnet``: the third octet of the first link)."""
    require_root()
    require_sshd()
    if shutil.which("ip") is None:
        pytest.skip("iproute2 is missing (apt-get install iproute2)")
    tag = secrets.token_hex(2)
    names = ["bastion", "middle", "internal"]
    namespaces = [f"pyi-{tag}-{name[:3]}" for name in names]
    veths: list[str] = []
    route_added = False
    topology = Topology()
    try:
        for netns in namespaces:
            if subprocess.run(["ip", "netns", "add", netns], capture_output=True).returncode:
                pytest.skip("cannot create network namespaces here")
            _ip("-n", netns, "link", "set", "lo", "up")
        # link i joins side A (root ns for i == 0, else hop i-1) to hop i
        for index, netns in enumerate(namespaces):
            octet = subnet + index
            left, right = f"pyi{tag}{index}a", f"pyi{tag}{index}b"
            _ip("link", "add", left, "type", "veth", "peer", "name", right)
            veths.append(left)
            if index > 0:
                _ip("link", "set", left, "netns", namespaces[index - 1])
                _ip("-n", namespaces[index - 1], "addr", "add", f"10.231.{octet}.1/24", "dev", left)
                _ip("-n", namespaces[index - 1], "link", "set", left, "up")
            else:
                _ip("addr", "add", f"10.231.{octet}.1/24", "dev", left)
                _ip("link", "set", left, "up")
            _ip("link", "set", right, "netns", netns)
            _ip("-n", netns, "addr", "add", f"10.231.{octet}.2/24", "dev", right)
            _ip("-n", netns, "link", "set", right, "up")
            topology.hops[names[index]] = Hop(names[index], netns, f"10.231.{octet}.2")
        added = subprocess.run(["ip", "route", "add", "unreachable", NETWORK],
                               capture_output=True, text=True, check=False)  # fmt: skip
        if added.returncode != 0 and "File exists" not in added.stderr:
            raise RuntimeError(f"ip route add unreachable {NETWORK}: {added.stderr.strip()}")
        route_added = added.returncode == 0
        for hop in topology.hops.values():
            hop.server = SSHServer(
                netns=hop.netns, listen_address=hop.address, port=22, host_key_types=["ed25519"]
            ).start()
        yield topology
    finally:
        for hop in topology.hops.values():
            if hop.server is not None:
                hop.server.stop()
        for veth in veths:  # deleting one end removes the pair, wherever it lives
            subprocess.run(["ip", "link", "delete", veth], capture_output=True, check=False)
            for netns in namespaces:
                subprocess.run(["ip", "-n", netns, "link", "delete", veth], capture_output=True,
                               check=False)  # fmt: skip
        for netns in namespaces:
            subprocess.run(["ip", "netns", "delete", netns], capture_output=True, check=False)
        if route_added:
            subprocess.run(["ip", "route", "delete", "unreachable", NETWORK], check=False)
