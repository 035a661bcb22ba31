"""Where a container's own sshd is reached from this machine (``@dockerssh/CONTAINER``).

From the local engine's inspect data, in this order:

1. a published port whose *host* port is ``ssh_port`` (``docker run -p 2222:22`` with
   ``ssh_port: 2222``): that port on its host address (``127.0.0.1`` for a wildcard);
2. the published host port that maps the container's ``ssh_port`` (default 22)/tcp;
3. the container's own IP address, port ``ssh_port`` (default 22).
"""

from __future__ import annotations

from typing import Any

_WILDCARDS = ("", "0.0.0.0", "::")


def _bindings(info: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    out: list[tuple[str, dict[str, Any]]] = []
    for key, bindings in ports.items():
        for binding in bindings or []:
            if isinstance(binding, dict) and str(binding.get("HostPort") or "").isdigit():
                out.append((str(key), binding))
    # IPv4 bindings first: 127.0.0.1 always works for a wildcard one
    out.sort(key=lambda item: ":" in str(item[1].get("HostIp") or ""))
    return out


def _host_address(binding: dict[str, Any]) -> str:
    host = str(binding.get("HostIp") or "")
    return "127.0.0.1" if host in _WILDCARDS else host


def container_ip(info: dict[str, Any]) -> str | None:
    settings = info.get("NetworkSettings") or {}
    if settings.get("IPAddress"):
        return str(settings["IPAddress"])
    for network in (settings.get("Networks") or {}).values():
        if isinstance(network, dict) and network.get("IPAddress"):
            return str(network["IPAddress"])
    return None


def ssh_address(info: dict[str, Any], ssh_port: int | None) -> tuple[str, int] | None:
    """``(host, port)`` to SSH to for this container, or None when it has neither a
    published SSH port nor an IP address."""
    bindings = _bindings(info)
    if ssh_port:
        for _key, binding in bindings:
            if int(binding["HostPort"]) == ssh_port:
                return _host_address(binding), ssh_port
    wanted = f"{ssh_port or 22}/tcp"
    for key, binding in bindings:
        if key == wanted:
            return _host_address(binding), int(binding["HostPort"])
    address = container_ip(info)
    if address:
        return address, ssh_port or 22
    return None
