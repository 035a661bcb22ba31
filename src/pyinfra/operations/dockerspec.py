"""What ``docker.container`` wants a container to be, as ``docker container create``
arguments and as a comparison with ``docker container inspect`` output; image
references split into their parts.

The comparison only looks at settings it can read back exactly from the inspect
output; the others (``env_files``, ``extra_args``, ``pull_always``) never cause a
re-creation.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from pyinfra.api.command import QuoteString

# Image references ------------------------------------------------------------------


@dataclass(frozen=True)
class ImageReference:
    """``[registry[:port]/][namespace/]repository[:tag][@digest]``."""

    repository: str
    namespace: str | None = None
    tag: str | None = None
    digest: str | None = None
    registry: str | None = None

    @property
    def name(self) -> str:
        return "/".join(p for p in (self.registry, self.namespace, self.repository) if p)


def parse_image_reference(image: str) -> ImageReference:
    """Split an image reference; a reference without tag or digest means ``:latest``.

    Raises ``ValueError`` for an empty or malformed reference.
    """
    text = image.strip()
    if not text:
        raise ValueError("an image reference cannot be empty")
    digest = None
    if "@" in text:
        text, digest = text.rsplit("@", 1)
        if not digest:
            raise ValueError(f"image reference {image!r} has an empty digest")
    tag = None
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        text, tag = text.rsplit(":", 1)
        if not tag:
            raise ValueError(f"image reference {image!r} has an empty tag")
    parts = text.split("/")
    registry = None
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts.pop(0)
        host, _, port = registry.partition(":")
        if not host or (":" in registry and not port.isdigit()):
            raise ValueError(f"image reference {image!r} has a malformed registry {registry!r}")
    if not parts or not all(parts):
        raise ValueError(f"image reference {image!r} has no repository")
    namespace = "/".join(parts[:-1]) or None
    if tag is None and digest is None:
        tag = "latest"
    return ImageReference(parts[-1], namespace, tag, digest, registry)


def same_image(wanted: str, created_with: str) -> bool:
    """Whether two references name the same image (``nginx`` is ``nginx:latest``)."""
    try:
        a, b = parse_image_reference(wanted), parse_image_reference(created_with)
    except ValueError:
        return wanted == created_with
    return (a.name, a.tag, a.digest) == (b.name, b.tag, b.digest)


# Sizes and ports -------------------------------------------------------------------

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def memory_bytes(value: str) -> int | None:
    """``512m`` -> bytes (docker's units: b, k, m, g, t); None when unreadable."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)b?\s*", value.lower())
    if match is None:
        return None
    return int(float(match[1]) * _UNITS[match[2]])


def port_bindings(spec: str) -> tuple[str, dict[str, str]] | None:
    """``[ip:][host_port:]container_port[/proto]`` -> ("80/tcp", {"HostIp", "HostPort"});
    None for forms this does not compare (ranges, IPv6)."""
    text, _, proto = spec.partition("/")
    proto = proto or "tcp"
    parts = text.split(":")
    if "[" in text or len(parts) > 3 or not all(p.isdigit() for p in parts[-2:] if p):
        return None
    if len(parts) == 1:
        return f"{parts[0]}/{proto}", {"HostIp": "", "HostPort": ""}
    if len(parts) == 2:
        return f"{parts[1]}/{proto}", {"HostIp": "", "HostPort": parts[0]}
    return f"{parts[2]}/{proto}", {"HostIp": parts[0], "HostPort": parts[1]}


# The spec ----------------------------------------------------------------------------


def split_command(command: str) -> list[str]:
    """A container command line as docker would receive it from a shell."""
    return shlex.split(command)


@dataclass
class ContainerSpec:
    """The arguments of ``docker.container`` that describe the container."""

    image: str = ""
    ports: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    env_vars: list[str] = field(default_factory=list)
    env_files: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    pull_always: bool = False
    restart_policy: str | None = None
    auto_remove: bool = False
    mounts: list[str] = field(default_factory=list)
    privileged: bool = False
    hostname: str | None = None
    entrypoint: str | None = None
    user: str | None = None
    cpus: float | None = None
    memory: str | None = None
    extra_args: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    command: str | None = None

    def create_args(self) -> list[Any]:
        """``docker container create`` arguments after ``--name NAME`` (every value
        shell-quoted; ``command`` split like a shell would)."""
        args: list[Any] = []

        def each(flag: str, values: list[str]) -> None:
            for value in values:
                args.extend([flag, QuoteString(value)])

        each("--network", self.networks)
        each("-p", self.ports)
        each("-v", self.volumes)
        each("--mount", self.mounts)
        each("-e", self.env_vars)
        each("--env-file", self.env_files)
        each("--label", self.labels)
        if self.pull_always:
            args.extend(["--pull", "always"])
        if self.restart_policy:
            args.extend(["--restart", QuoteString(self.restart_policy)])
        if self.auto_remove:
            args.append("--rm")
        if self.privileged:
            args.append("--privileged")
        for flag, value in (
            ("--hostname", self.hostname),
            ("--entrypoint", self.entrypoint),
            ("--user", self.user),
            ("--cpus", None if self.cpus is None else str(self.cpus)),
            ("--memory", self.memory),
        ):
            if value is not None:
                args.extend([flag, QuoteString(value)])
        args.extend(QuoteString(arg) for arg in self.extra_args)
        each("--dns", self.dns)
        args.append(QuoteString(self.image))
        if self.command:
            args.extend(QuoteString(arg) for arg in split_command(self.command))
        return args

    def differences(self, inspect: dict[str, Any], image_id: str | None) -> list[str]:
        """The settings in which the inspected container differs from this spec
        (``image_id``: the id the image reference has now, when known)."""
        config = inspect.get("Config") or {}
        host = inspect.get("HostConfig") or {}
        diffs: list[str] = []
        if self.image and not same_image(self.image, str(config.get("Image") or "")):
            diffs.append("image")
        elif image_id and inspect.get("Image") and inspect.get("Image") != image_id:
            diffs.append("image (a newer one has the same name)")
        env = set(config.get("Env") or [])
        if any(entry not in env for entry in self.env_vars):
            diffs.append("env_vars")
        labels = config.get("Labels") or {}
        for label in self.labels:
            key, _, value = label.partition("=")
            if labels.get(key) != value:
                diffs.append("labels")
                break
        policy = host.get("RestartPolicy") or {}
        name, _, retries = (self.restart_policy or "no").partition(":")
        if (policy.get("Name") or "no") != name or (
            retries and str(policy.get("MaximumRetryCount")) != retries
        ):
            diffs.append("restart_policy")
        if bool(host.get("AutoRemove")) != self.auto_remove:
            diffs.append("auto_remove")
        if bool(host.get("Privileged")) != self.privileged:
            diffs.append("privileged")
        if self.hostname is not None and config.get("Hostname") != self.hostname:
            diffs.append("hostname")
        if self.user is not None and config.get("User") != self.user:
            diffs.append("user")
        if self.entrypoint is not None and (config.get("Entrypoint") or []) != [self.entrypoint]:
            diffs.append("entrypoint")
        if self.command and (config.get("Cmd") or []) != split_command(self.command):
            diffs.append("command")
        if self.cpus is not None and host.get("NanoCpus") != round(self.cpus * 1e9):
            diffs.append("cpus")
        if self.memory is not None:
            wanted = memory_bytes(self.memory)
            if wanted is not None and host.get("Memory") != wanted:
                diffs.append("memory")
        if self.dns and list(host.get("Dns") or []) != self.dns:
            diffs.append("dns")
        diffs += self._storage_differences(config, host)
        diffs += self._network_differences(inspect, host)
        return diffs

    def _storage_differences(self, config: dict[str, Any], host: dict[str, Any]) -> list[str]:
        binds = set(host.get("Binds") or [])
        anonymous = set((config.get("Volumes") or {}).keys())
        for volume in self.volumes:
            if (volume not in binds) if ":" in volume else (volume not in anonymous):
                return ["volumes"]
        current = {
            (m.get("Type"), m.get("Source"), m.get("Target")) for m in host.get("Mounts") or []
        }
        for mount in self.mounts:
            fields = dict(item.partition("=")[::2] for item in mount.split(",") if "=" in item)
            wanted = (
                fields.get("type", "volume"),
                fields.get("source") or fields.get("src"),
                fields.get("target") or fields.get("destination") or fields.get("dst"),
            )
            if wanted not in current:
                return ["mounts"]
        return []

    def _network_differences(self, inspect: dict[str, Any], host: dict[str, Any]) -> list[str]:
        diffs: list[str] = []
        bindings = host.get("PortBindings") or {}
        for port in self.ports:
            parsed = port_bindings(port)
            if parsed is None:
                continue
            key, binding = parsed
            current = bindings.get(key) or []
            if not any(
                b.get("HostIp", "") == binding["HostIp"]
                and b.get("HostPort", "") == binding["HostPort"]
                for b in current
            ):
                diffs.append("ports")
                break
        attached = set(((inspect.get("NetworkSettings") or {}).get("Networks") or {}).keys())
        attached.add(str(host.get("NetworkMode") or ""))
        if any(network not in attached for network in self.networks):
            diffs.append("networks")
        return diffs

    def predicted_inspect(self, name: str, running: bool, image_id: str | None) -> dict[str, Any]:
        """An inspect-like dict of the container this spec creates (for dry runs)."""
        policy, _, retries = (self.restart_policy or "no").partition(":")
        binds = [v for v in self.volumes if ":" in v]
        return {
            "Name": f"/{name}",
            "Image": image_id,
            "State": {"Status": "running" if running else "created", "Running": running},
            "Config": {
                "Image": self.image,
                "Env": list(self.env_vars),
                "Labels": {k: v for k, _, v in (lbl.partition("=") for lbl in self.labels)},
                "Hostname": self.hostname,
                "User": self.user,
                "Entrypoint": [self.entrypoint] if self.entrypoint is not None else None,
                "Cmd": split_command(self.command) if self.command else None,
                "Volumes": {v: {} for v in self.volumes if ":" not in v},
            },
            "HostConfig": {
                "RestartPolicy": {
                    "Name": policy,
                    "MaximumRetryCount": int(retries) if retries.isdigit() else 0,
                },
                "AutoRemove": self.auto_remove,
                "Privileged": self.privileged,
                "NanoCpus": round(self.cpus * 1e9) if self.cpus is not None else 0,
                "Memory": memory_bytes(self.memory) if self.memory else 0,
                "Dns": list(self.dns),
                "Binds": binds,
                "Mounts": [
                    {
                        "Type": f.get("type", "volume"),
                        "Source": f.get("source") or f.get("src"),
                        "Target": f.get("target") or f.get("destination") or f.get("dst"),
                    }
                    for f in (
                        dict(i.partition("=")[::2] for i in m.split(",") if "=" in i)
                        for m in self.mounts
                    )
                ],
                "PortBindings": {
                    key: [binding]
                    for key, binding in filter(None, (port_bindings(p) for p in self.ports))
                },
                "NetworkMode": self.networks[0] if self.networks else "default",
            },
            "NetworkSettings": {"Networks": {n: {} for n in self.networks}},
        }
