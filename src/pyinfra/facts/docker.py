"""Facts about the Docker engine of the host, read with its ``docker`` CLI: containers,
images, networks, volumes and plugins as ``docker ... inspect`` shows them, plus
slices of that output (labels, mounts, ports...) and a few other views (``docker
diff``/``top``/``stats``/``history``, registry logins).

These describe Docker *on* the inventory host; to run commands inside containers use
the ``@docker`` connector instead. Every fact is ``None`` when ``docker`` is missing.
"""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase, ShortFactBase
from pyinfra.facts.parsing import parse_json


def _inspect_all(list_command: str, inspect_command: str) -> str:
    """Inspect every object ``list_command`` prints (``[]`` when there are none).

    An object removed between the two commands is left out instead of failing the
    fact (``inspect`` still prints the others, as a JSON list)."""
    return (
        f"ids=$({list_command}) && "
        f'if [ -z "$ids" ]; then echo "[]"; '
        f"else {inspect_command} $ids 2>/dev/null || true; fi"
    )


class DockerFactBase(FactBase[Any]):
    """Base of the docker facts: the command prints JSON, the fact is its value."""

    abstract = True
    docker_type: str = ""

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "docker"

    def process(self, output: list[str]) -> Any:
        return parse_json(output)


class _DockerJsonLinesFactBase(DockerFactBase):
    """A command printing one JSON object per line: the fact is their list."""

    abstract = True

    def process(self, output: list[str]) -> Any:
        return [json.loads(line) for line in output if line.strip()]


class DockerSystemInfo(DockerFactBase):
    """``docker system info`` as a dict (engine version, storage driver, counts...)."""

    def command(self) -> str:
        return "docker system info --format='{{json .}}'"


class DockerVersion(FactBase[str]):
    """The ``docker --version`` line, e.g. ``Docker version 20.10.24+dfsg1, build ...``."""

    def requires_command(self) -> str:
        return "docker"

    def command(self) -> str:
        return "docker --version"

    def process(self, output: list[str]) -> str:
        return "".join(output)


# Every object of a kind -------------------------------------------------------------


class DockerContainers(DockerFactBase):
    """``docker container inspect`` of every container, running or not (a list)."""

    def command(self) -> str:
        return _inspect_all("docker container ls -qa", "docker container inspect")


class DockerImages(DockerFactBase):
    """``docker image inspect`` of every image ``docker images`` lists (a list; an image
    with several tags appears once per tag, as ``docker images`` lists it)."""

    def command(self) -> str:
        return _inspect_all("docker images -q", "docker image inspect")


class DockerNetworks(DockerFactBase):
    """``docker network inspect`` of every network (a list)."""

    def command(self) -> str:
        return _inspect_all("docker network ls -q", "docker network inspect")


class DockerVolumes(DockerFactBase):
    """``docker volume inspect`` of every volume (a list, ``[]`` when there is none)."""

    def command(self) -> str:
        return _inspect_all("docker volume ls -q", "docker volume inspect")


class DockerPlugins(DockerFactBase):
    """``docker plugin inspect`` of every plugin (a list, ``[]`` when there is none)."""

    def command(self) -> str:
        return _inspect_all("docker plugin ls -q", "docker plugin inspect")


# One object ---------------------------------------------------------------------------


class DockerSingleMixin(DockerFactBase):
    """``docker <type> inspect OBJECT``: a list with its one inspect dict, or ``[]`` when
    there is no such object."""

    abstract = True

    def command(self, object_id: str) -> StringCommand:
        return StringCommand(
            "docker", self.docker_type, "inspect", QuoteString(object_id), "2>/dev/null",
            "||", "true",
        )  # fmt: skip


class DockerContainer(DockerSingleMixin):
    """``docker container inspect`` of one container (by name or id)."""

    docker_type = "container"


class DockerImage(DockerSingleMixin):
    """``docker image inspect`` of one image (by reference or id)."""

    docker_type = "image"


class DockerNetwork(DockerSingleMixin):
    """``docker network inspect`` of one network (by name or id)."""

    docker_type = "network"


class DockerVolume(DockerSingleMixin):
    """``docker volume inspect`` of one volume (by name)."""

    docker_type = "volume"


class DockerPlugin(DockerSingleMixin):
    """``docker plugin inspect`` of one plugin (by name or id)."""

    docker_type = "plugin"


# Slices of the inspect output, keyed by id -------------------------------------------


def _section(item: dict[str, Any], *keys: str) -> Any:
    value: Any = item
    for key in keys:
        value = (value or {}).get(key)
    return value


class DockerContainerEnvs(ShortFactBase[dict[str, dict[str, str]]]):
    """Each container's environment: ``{container_id: {"PATH": "...", ...}}``."""

    fact = DockerContainers

    def process_data(self, data: Any) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {}
        for container in data or []:
            env: dict[str, str] = {}
            for entry in _section(container, "Config", "Env") or []:
                key, _, value = entry.partition("=")
                env[key] = value
            result[container.get("Id")] = env
        return result


class DockerContainerLabels(ShortFactBase[dict[str, dict[str, str]]]):
    """Each container's labels: ``{container_id: {label: value}}``."""

    fact = DockerContainers

    def process_data(self, data: Any) -> dict[str, dict[str, str]]:
        return {c.get("Id"): _section(c, "Config", "Labels") or {} for c in data or []}


class DockerContainerMounts(ShortFactBase[dict[str, list[Any]]]):
    """Each container's mounts (the inspect ``Mounts`` list), by container id."""

    fact = DockerContainers

    def process_data(self, data: Any) -> dict[str, list[Any]]:
        return {c.get("Id"): c.get("Mounts") or [] for c in data or []}


class DockerContainerNetworks(ShortFactBase[dict[str, dict[str, Any]]]):
    """Each container's networks (``NetworkSettings.Networks``), by container id."""

    fact = DockerContainers

    def process_data(self, data: Any) -> dict[str, dict[str, Any]]:
        return {c.get("Id"): _section(c, "NetworkSettings", "Networks") or {} for c in data or []}


class DockerContainerPorts(ShortFactBase[dict[str, dict[str, Any]]]):
    """Each container's published ports (``NetworkSettings.Ports``), by container id."""

    fact = DockerContainers

    def process_data(self, data: Any) -> dict[str, dict[str, Any]]:
        return {c.get("Id"): _section(c, "NetworkSettings", "Ports") or {} for c in data or []}


class DockerImageLabels(ShortFactBase[dict[str, dict[str, str]]]):
    """Each image's labels, by image id (from its config, else its container config)."""

    fact = DockerImages

    def process_data(self, data: Any) -> dict[str, dict[str, str]]:
        return {
            image.get("Id"): (
                _section(image, "Config", "Labels")
                or _section(image, "ContainerConfig", "Labels")
                or {}
            )
            for image in data or []
        }


class DockerImageLayers(ShortFactBase[dict[str, list[str]]]):
    """Each image's layer digests (``RootFS.Layers``), by image id."""

    fact = DockerImages

    def process_data(self, data: Any) -> dict[str, list[str]]:
        return {image.get("Id"): _section(image, "RootFS", "Layers") or [] for image in data or []}


class DockerNetworkLabels(ShortFactBase[dict[str, dict[str, str]]]):
    """Each network's labels, by network id."""

    fact = DockerNetworks

    def process_data(self, data: Any) -> dict[str, dict[str, str]]:
        return {network.get("Id"): network.get("Labels") or {} for network in data or []}


class DockerVolumeLabels(ShortFactBase[dict[str, dict[str, str]]]):
    """Each volume's labels, by volume name."""

    fact = DockerVolumes

    def process_data(self, data: Any) -> dict[str, dict[str, str]]:
        return {volume.get("Name"): volume.get("Labels") or {} for volume in data or []}


# Other views --------------------------------------------------------------------------


class DockerContainerFsChanges(DockerFactBase):
    """Files a container changed (``docker diff``): ``[{"change": "A"|"C"|"D",
    "path": ...}]``; ``None`` when nothing changed or the container does not exist."""

    def command(self, container_id: str) -> StringCommand:
        return StringCommand(
            "docker", "container", "diff", QuoteString(container_id), "2>/dev/null",
            "||", "true",
        )  # fmt: skip

    def process(self, output: list[str]) -> list[dict[str, str]]:
        changes = []
        for line in output:
            change, space, path = line.partition(" ")
            if space and change:
                changes.append({"change": change, "path": path})
        return changes


class DockerContainerProcesses(DockerFactBase):
    """Processes in a running container (``docker top``): one dict per process, keyed
    by the ``ps`` column names (``UID``, ``PID``, ... ``CMD``)."""

    def command(self, container_id: str) -> StringCommand:
        return StringCommand(
            "docker", "container", "top", QuoteString(container_id), "2>/dev/null",
            "||", "true",
        )  # fmt: skip

    def process(self, output: list[str]) -> list[dict[str, str]]:
        lines = [line for line in output if line.strip()]
        if not lines:
            return []
        columns = lines[0].split()
        processes = []
        for line in lines[1:]:
            values = line.split(None, len(columns) - 1)
            values += [""] * (len(columns) - len(values))
            processes.append(dict(zip(columns, values, strict=True)))
        return processes


class DockerContainerStats(_DockerJsonLinesFactBase):
    """Resource use of the running containers (``docker stats --no-stream``): one
    dict per container (``Name``, ``CPUPerc``, ``MemUsage``...)."""

    def command(self) -> str:
        return "docker stats --no-stream --format '{{json .}}'"


class DockerImageHistory(_DockerJsonLinesFactBase):
    """The layers of one image (``docker history``), newest first, one dict each."""

    def command(self, image_id: str) -> StringCommand:
        return StringCommand(
            "docker", "image", "history", "--no-trunc", "--format", "'{{json .}}'",
            QuoteString(image_id), "2>/dev/null", "||", "true",
        )  # fmt: skip


class DockerAuths(FactBase[list[str]]):
    """Registries the user commands run as is logged in to: the ``auths`` of
    ``${DOCKER_CONFIG:-$HOME/.docker}/config.json`` (``[]`` without that file)."""

    def command(self) -> str:
        return (
            'config="${DOCKER_CONFIG:-$HOME/.docker}/config.json"; '
            'if [ -r "$config" ]; then cat "$config"; else echo "{}"; fi'
        )

    def process(self, output: list[str]) -> list[str]:
        try:
            data = parse_json(output)
        except json.JSONDecodeError:
            return []
        auths = data.get("auths") if isinstance(data, dict) else None
        return list(auths) if isinstance(auths, dict) else []
