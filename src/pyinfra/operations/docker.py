"""Manage Docker on the inventory host with its ``docker`` CLI: containers, images,
volumes, networks, plugins, builds, compose stacks and registry logins.

These act on the Docker engine *of* the host; to run operations inside a container
use the ``@docker`` connector instead. Nothing here pulls an image the deploy did not
ask for: ``docker.container`` refuses to create a container from an image the host
does not have (pull it with ``docker.image`` first, or pass ``pull_always=True``).
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Generator, Iterable
from typing import Any

from pyinfra import host
from pyinfra.api.command import MaskString, QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.docker import (
    DockerAuths,
    DockerContainer,
    DockerContainers,
    DockerImage,
    DockerImages,
    DockerNetwork,
    DockerNetworks,
    DockerPlugin,
    DockerPlugins,
    DockerVolume,
    DockerVolumes,
)
from pyinfra.operations.dockerspec import ContainerSpec, parse_image_reference
from pyinfra.operations.util import chain, fail

Commands = Generator[Any, Any, None]

DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
logger = logging.getLogger("pyinfra")
# The fact of one object (``docker <type> inspect NAME``) -> the fact of all of them.
_EVERY = {
    DockerContainer: DockerContainers,
    DockerImage: DockerImages,
    DockerNetwork: DockerNetworks,
    DockerVolume: DockerVolumes,
    DockerPlugin: DockerPlugins,
}
# What prune and compose may change (not plugins).
_ENGINE_FACTS = (
    DockerContainer, DockerContainers, DockerImage, DockerImages, DockerNetwork,
    DockerNetworks, DockerVolume, DockerVolumes,
)  # fmt: skip


def _name(op: str, value: Any, argument: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(op, f"argument {argument} must be a non-empty string, got {value!r}")
    if "\0" in value or "\n" in value:
        raise fail(op, f"argument {argument} must not contain NUL or newline characters")
    return value


def _strings(op: str, value: Any, argument: str) -> list[str]:
    """``None`` -> [], a string -> [it], a list of strings -> the list."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise fail(op, f"argument {argument} must be a list of strings, got {value!r}")
    return list(items)


def _inspect(fact: type[Any], name: str) -> dict[str, Any] | None:
    """The inspect dict of the object ``name`` (``fact``: ``DockerContainer``...), or
    None when there is no such object."""
    found = host.get_fact(fact, object_id=name)
    if isinstance(found, list) and found and isinstance(found[0], dict):
        return found[0]
    return None


def _predicted(fact: type[Any], objects: dict[str, dict[str, Any] | None]) -> FactChange:
    """``fact`` and its every-object fact are dropped; a dry run predicts the inspect
    of each of ``objects`` (None: the object is gone)."""
    return FactChange(
        facts=(fact, _EVERY[fact]),
        expect=tuple(
            (fact, {"object_id": name}, [] if inspect is None else [inspect])
            for name, inspect in objects.items()
        ),
    )


def _docker(*bits: Any) -> StringCommand:
    return StringCommand("docker", *bits)


def _words(op: str, argument: str, command: str) -> list[Any]:
    """The command line ``command`` (``docker compose``...) as quoted words."""
    try:
        words: list[Any] = [QuoteString(word) for word in shlex.split(command)]
    except ValueError as exc:
        raise fail(op, f"argument {argument} is not a valid command line: {exc}") from exc
    if not words:
        raise fail(op, f"argument {argument} must not be empty")
    return words


def _image_reference(op: str, image: str) -> Any:
    try:
        return parse_image_reference(image)
    except ValueError as exc:
        raise fail(op, f"argument image: {exc}") from exc


def _repeat(flag: str, values: Iterable[str]) -> list[Any]:
    """``FLAG VALUE`` for each value: ``--label a --label b``."""
    return [bit for value in values for bit in (flag, QuoteString(value))]


def _given(*options: tuple[str, str | None]) -> list[Any]:
    """``FLAG VALUE`` for each option that is set (not empty)."""
    return [bit for flag, value in options if value for bit in (flag, QuoteString(value))]


def _pairs(mapping: dict[str, str] | None) -> list[str]:
    """``KEY=VALUE`` items (``--env``, ``--build-arg``, plugin settings)."""
    return [f"{key}={value}" for key, value in (mapping or {}).items()]


# Containers ---------------------------------------------------------------------------


@operation()
def container(
    container: str,
    image: str = "",
    ports: list[str] | None = None,
    networks: list[str] | None = None,
    volumes: list[str] | None = None,
    env_vars: list[str] | None = None,
    env_files: list[str] | None = None,
    labels: list[str] | None = None,
    pull_always: bool = False,
    present: bool = True,
    force: bool = False,
    start: bool = True,
    restart_policy: str | None = None,
    auto_remove: bool = False,
    mounts: list[str] | None = None,
    privileged: bool = False,
    hostname: str | None = None,
    entrypoint: str | None = None,
    user: str | None = None,
    cpus: float | None = None,
    memory: str | None = None,
    extra_args: list[str] | None = None,
    dns: list[str] | None = None,
    command: str | None = None,
) -> Commands:
    """Create, re-create, start, stop or remove a container.

    + container: its name
    + image: the image to create it from (must be on the host unless ``pull_always``)
    + ports, networks, volumes, mounts, env_vars, env_files, labels, dns: lists of
      ``-p``/``--network``/``-v``/``--mount``/``-e``/``--env-file``/``--label``/
      ``--dns`` values
    + pull_always: pull the image on creation (``--pull always``)
    + present: whether the container should exist
    + force: re-create it even when it matches
    + start: whether it should be running
    + restart_policy, auto_remove, privileged, hostname, entrypoint, user, cpus,
      memory: the ``docker container create`` options of the same names
    + extra_args: more ``docker container create`` arguments, one per item
    + command: the container's command line (split like a shell would)

    An existing container is re-created when its image, environment, labels, ports,
    networks, volumes, mounts, restart policy or the other readable settings differ
    from these arguments, or when the image name now points to a newer image.
    """
    op = "docker.container"
    _name(op, container, "container")
    spec = ContainerSpec(
        image,
        _strings(op, ports, "ports"),
        _strings(op, networks, "networks"),
        _strings(op, volumes, "volumes"),
        _strings(op, env_vars, "env_vars"),
        _strings(op, env_files, "env_files"),
        _strings(op, labels, "labels"),
        pull_always,
        restart_policy,
        auto_remove,
        _strings(op, mounts, "mounts"),
        privileged,
        hostname,
        entrypoint,
        user,
        cpus,
        memory,
        _strings(op, extra_args, "extra_args"),
        _strings(op, dns, "dns"),
        command,
    )
    if command:
        try:
            shlex.split(command)
        except ValueError as exc:
            raise fail(op, f"argument command is not a valid command line: {exc}") from exc

    current = _inspect(DockerContainer, container)
    running = bool(current and (current.get("State") or {}).get("Status") == "running")

    if not present:
        if current is None:
            host.noop(f"container {container} does not exist")
            return
        yield _docker("container", "rm", "-f", QuoteString(container))
        yield _predicted(DockerContainer, {container: None})
        return

    image_id: str | None = None
    have_image = False
    if current is None or image:
        if not image:
            raise fail(op, f"container {container} does not exist: give the image to create it")
        _image_reference(op, image)
        found = _inspect(DockerImage, image)
        have_image = found is not None
        image_id = found.get("Id") if found else None

    differences = spec.differences(current, image_id) if current and image else []
    recreate = current is not None and (force or bool(differences))
    if recreate and not image:
        raise fail(op, f"re-creating container {container} (force=True) needs the image")
    if (current is None or recreate) and image and not have_image and not pull_always:
        raise fail(
            op,
            f"image {image} is not on the host and would have to be pulled: "
            "pull it first (docker.image) or pass pull_always=True",
        )
    commands: list[StringCommand] = []
    if recreate:
        commands.append(_docker("container", "rm", "-f", QuoteString(container)))
    if current is None or recreate:
        commands.append(
            _docker("container", "create", "--name", QuoteString(container), *spec.create_args())
        )
    if start and (recreate or current is None or not running):
        commands.append(_docker("container", "start", QuoteString(container)))
    if not start and running and not recreate:
        commands.append(_docker("container", "stop", QuoteString(container)))
    if not commands:
        host.noop(f"container {container} is up to date")
        return
    if differences:
        logger.info(
            "%s: container %s is re-created (%s changed)",
            host.name,
            container,
            ", ".join(differences),
        )
    yield from chain(commands)
    if current is None or recreate:
        predicted = spec.predicted_inspect(container, start, image_id)
    else:
        predicted = {**current, "State": {"Status": "running" if start else "exited"}}
    yield _predicted(DockerContainer, {container: predicted})


@operation(is_idempotent=False)
def container_exec(
    container: str,
    command: str | list[str],
    user: str | None = None,
    workdir: str | None = None,
    env: dict[str, str] | None = None,
    detach: bool = False,
    privileged: bool = False,
    tty: bool = False,
) -> Commands:
    """Run a command in a running container (``docker exec``; always a change).

    + container: its name or id
    + command: a string runs through the container's ``sh -c``; a list is the argv
    + user, workdir: ``--user``/``--workdir``
    + env: environment variables (``--env``)
    + detach, privileged, tty: ``--detach``/``--privileged``/``--tty``
    """
    op = "docker.container_exec"
    _name(op, container, "container")
    if not command:
        raise fail(op, "argument command must not be empty")
    bits: list[Any] = ["exec"]
    if detach:
        bits.append("--detach")
    if privileged:
        bits.append("--privileged")
    if tty:
        bits.append("--tty")
    if user is not None:
        bits += ["--user", QuoteString(user)]
    if workdir is not None:
        bits += ["--workdir", QuoteString(workdir)]
    bits += _repeat("--env", _pairs(env))
    bits.append(QuoteString(container))
    if isinstance(command, str):
        bits += ["sh", "-c", QuoteString(command)]
    else:
        bits += [QuoteString(str(arg)) for arg in command]
    yield _docker(*bits)


# Images -------------------------------------------------------------------------------


@operation()
def image(image: str, present: bool = True, force: bool = False) -> Commands:
    """Pull or remove an image.

    + image: the reference, e.g. ``nginx:1.27``
    + present: whether the host should have it. A specific tag or digest is pulled
      only when missing; ``latest`` (or no tag) is pulled on every run
    + force: pull even when the host has it
    """
    op = "docker.image"
    _name(op, image, "image")
    reference = _image_reference(op, image)
    if not present:
        if _inspect(DockerImage, image) is None:
            host.noop(f"there is no image {image}")
            return
        yield _docker("image", "rm", QuoteString(image))
        yield _predicted(DockerImage, {image: None})
        return
    always = force or (reference.digest is None and reference.tag == "latest")
    if not always and _inspect(DockerImage, image) is not None:
        host.noop(f"image {image} is already present")
        return
    yield _docker("image", "pull", QuoteString(image))
    yield _predicted(DockerImage, {image: {"RepoTags": [image]}})


@operation()
def build(
    path: str,
    tags: str | list[str] | None = None,
    dockerfile: str | None = None,
    build_args: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    target: str | None = None,
    platform: str | None = None,
    network: str | None = None,
    cache_from: str | list[str] | None = None,
    cache_to: str | list[str] | None = None,
    secrets: list[str] | None = None,
    pull: bool = False,
    no_cache: bool = False,
    force: bool = False,
    builder: str | None = None,
    build_cmd: str = "docker build",
) -> Commands:
    """Build an image from a context directory (or URL) on the host.

    + path: the build context
    + tags: tag(s) to give the image (``-t``); when every tag already exists the build
      is skipped unless ``force``; without tags it always runs
    + dockerfile: ``-f``; build_args, labels: ``--build-arg``/``--label`` mappings
    + target, platform, network, builder: the options of the same names
    + cache_from, cache_to, secrets: ``--cache-from``/``--cache-to``/``--secret``
      value(s)
    + pull, no_cache: ``--pull``/``--no-cache``
    + build_cmd: the build command (``docker buildx build`` for BuildKit)
    """
    op = "docker.build"
    _name(op, path, "path")
    tag_list = _strings(op, tags, "tags")
    if tag_list and not force:
        missing = [t for t in tag_list if _inspect(DockerImage, t) is None]
        if not missing:
            host.noop(f"image(s) {', '.join(tag_list)} already exist")
            return
    bits = _words(op, "build_cmd", build_cmd)
    bits += _given(("--builder", builder))
    bits += _repeat("-t", tag_list)
    bits += _given(("-f", dockerfile))
    bits += _repeat("--build-arg", _pairs(build_args)) + _repeat("--label", _pairs(labels))
    bits += _given(("--target", target), ("--platform", platform), ("--network", network))
    bits += _repeat("--cache-from", _strings(op, cache_from, "cache_from"))
    bits += _repeat("--cache-to", _strings(op, cache_to, "cache_to"))
    bits += _repeat("--secret", _strings(op, secrets, "secrets"))
    if pull:
        bits.append("--pull")
    if no_cache:
        bits.append("--no-cache")
    bits.append(QuoteString(path))
    yield StringCommand(*bits)
    yield _predicted(DockerImage, {t: {"RepoTags": [t]} for t in tag_list})


@operation(is_idempotent=False)
def prune(all: bool = False, volumes: bool = False, filter: str = "") -> Commands:
    """``docker system prune``: remove stopped containers, unused networks, dangling
    images and build cache (always a change).

    + all: also every unused image, not only dangling ones (``-a``)
    + volumes: also unused volumes (``--volumes``)
    + filter: a ``--filter`` value, e.g. ``label=env=test`` or ``until=24h``
    """
    bits: list[Any] = ["system", "prune"]
    if all:
        bits.append("-a")
    if filter:
        bits.append(QuoteString(f"--filter={filter}"))
    if volumes:
        bits.append("--volumes")
    bits.append("-f")
    yield _docker(*bits)
    yield FactChange(facts=_ENGINE_FACTS)


# Volumes and networks -------------------------------------------------------------------


@operation()
def volume(
    volume: str,
    driver: str = "",
    labels: list[str] | None = None,
    options: list[str] | None = None,
    present: bool = True,
) -> Commands:
    """Create or remove a volume (an existing volume is left as it is).

    + volume: its name
    + driver: its driver (``-d``)
    + labels: ``--label`` values; options: driver options (``--opt``)
    + present: whether it should exist
    """
    op = "docker.volume"
    _name(op, volume, "volume")
    exists = _inspect(DockerVolume, volume) is not None
    if present == exists:
        host.noop(f"volume {volume} {'exists' if exists else 'does not exist'}")
        return
    if not present:
        yield _docker("volume", "rm", QuoteString(volume))
        yield _predicted(DockerVolume, {volume: None})
        return
    yield _docker(
        "volume",
        "create",
        *_given(("-d", driver)),
        *_repeat("--label", _strings(op, labels, "labels")),
        *_repeat("--opt", _strings(op, options, "options")),
        QuoteString(volume),
    )
    yield _predicted(DockerVolume, {volume: {"Name": volume, "Driver": driver or "local"}})


@operation()
def network(
    network: str,
    driver: str = "",
    gateway: str = "",
    ip_range: str = "",
    ipam_driver: str = "",
    subnet: str = "",
    scope: str = "",
    aux_addresses: dict[str, str] | None = None,
    opts: list[str] | None = None,
    ipam_opts: list[str] | None = None,
    labels: list[str] | None = None,
    ingress: bool = False,
    attachable: bool = False,
    present: bool = True,
) -> Commands:
    """Create or remove a network (an existing network is left as it is).

    + network: its name
    + driver, gateway, ip_range, ipam_driver, subnet, scope: the ``docker network
      create`` options of the same names
    + aux_addresses: ``--aux-address`` name -> address
    + opts, ipam_opts, labels: ``--opt``/``--ipam-opt``/``--label`` values
    + ingress, attachable: ``--ingress``/``--attachable``
    + present: whether it should exist
    """
    op = "docker.network"
    _name(op, network, "network")
    exists = _inspect(DockerNetwork, network) is not None
    if present == exists:
        host.noop(f"network {network} {'exists' if exists else 'does not exist'}")
        return
    if not present:
        yield _docker("network", "rm", QuoteString(network))
        yield _predicted(DockerNetwork, {network: None})
        return
    bits: list[Any] = ["network", "create"]
    bits += _given(
        ("-d", driver),
        ("--gateway", gateway),
        ("--ip-range", ip_range),
        ("--ipam-driver", ipam_driver),
        ("--subnet", subnet),
        ("--scope", scope),
    )
    if ingress:
        bits.append("--ingress")
    if attachable:
        bits.append("--attachable")
    bits += _repeat("--aux-address", _pairs(aux_addresses))
    bits += _repeat("--opt", _strings(op, opts, "opts"))
    bits += _repeat("--ipam-opt", _strings(op, ipam_opts, "ipam_opts"))
    bits += _repeat("--label", _strings(op, labels, "labels"))
    bits.append(QuoteString(network))
    yield _docker(*bits)
    yield _predicted(DockerNetwork, {network: {"Name": network, "Driver": driver or "bridge"}})


# Plugins --------------------------------------------------------------------------------


@operation()
def plugin(
    plugin: str,
    alias: str | None = None,
    present: bool = True,
    enabled: bool = True,
    plugin_options: dict[str, str] | None = None,
) -> Commands:
    """Install, configure, enable/disable or remove a plugin.

    + plugin: the plugin reference to install (e.g. ``vieux/sshfs:latest``)
    + alias: the local name to install it under (and to manage it by)
    + present: whether it should be installed
    + enabled: whether it should be enabled
    + plugin_options: settings (``KEY: value``); changed on an installed plugin by
      disabling it, setting them and enabling it again
    """
    op = "docker.plugin"
    _name(op, plugin, "plugin")
    name = alias or plugin
    current = _inspect(DockerPlugin, name)

    if not present:
        if current is None:
            host.noop(f"plugin {name} is not installed")
            return
        yield _docker("plugin", "rm", "-f", QuoteString(name))
        yield _predicted(DockerPlugin, {name: None})
        return

    options = {str(k): str(v) for k, v in (plugin_options or {}).items()}
    if current is None:
        bits: list[Any] = ["plugin", "install", QuoteString(plugin), "--grant-all-permissions"]
        if alias:
            bits += ["--alias", QuoteString(alias)]
        if not enabled:
            bits.append("--disable")
        bits += [QuoteString(setting) for setting in _pairs(options)]
        yield _docker(*bits)
        predicted = {"Name": name, "Enabled": enabled, "Settings": {"Env": _pairs(options)}}
        yield _predicted(DockerPlugin, {name: predicted})
        return

    settings = _env_dict((current.get("Settings") or {}).get("Env") or [])
    stale = {k: v for k, v in options.items() if settings.get(k) != v}
    is_enabled = bool(current.get("Enabled"))
    commands: list[StringCommand] = []
    if stale:
        if is_enabled:
            commands.append(_docker("plugin", "disable", QuoteString(name)))
        commands.append(
            _docker(
                "plugin",
                "set",
                QuoteString(name),
                *[QuoteString(setting) for setting in _pairs(stale)],
            )
        )
        if enabled:
            commands.append(_docker("plugin", "enable", QuoteString(name)))
    elif enabled != is_enabled:
        commands.append(_docker("plugin", "enable" if enabled else "disable", QuoteString(name)))
    if not commands:
        state = "enabled" if enabled else "disabled"
        host.noop(f"plugin {name} is installed with the same options and {state}")
        return
    yield from chain(commands)
    predicted = {
        **current,
        "Enabled": enabled,
        "Settings": {
            **(current.get("Settings") or {}),
            "Env": _pairs({**settings, **options}),
        },
    }
    yield _predicted(DockerPlugin, {name: predicted})


def _env_dict(entries: list[str]) -> dict[str, str]:
    return {k: v for k, _, v in (str(e).partition("=") for e in entries)}


# Compose --------------------------------------------------------------------------------


@operation(is_idempotent=False)
def compose(
    project_directory: str,
    files: str | list[str] | None = None,
    project_name: str | None = None,
    present: bool = True,
    pull: str | None = None,
    build: bool = False,
    force_recreate: bool = False,
    remove_orphans: bool = True,
    remove_volumes: bool = False,
    compose_command: str = "docker compose",
) -> Commands:
    """Bring a Compose project up (``up -d``) or down (``down``); always runs (Compose
    itself leaves unchanged services alone).

    + project_directory: the project's directory on the host
    + files: compose file(s) (``-f``) instead of the default discovery
    + project_name: ``--project-name``
    + present: ``up -d`` when True, ``down`` when False
    + pull: ``--pull`` policy on ``up``: ``always``, ``missing`` or ``never``
    + build, force_recreate: ``--build``/``--force-recreate`` on ``up``
    + remove_orphans: ``--remove-orphans``; remove_volumes: ``-v`` on ``down``
    + compose_command: ``docker compose``, or ``docker-compose`` for Compose v1
    """
    op = "docker.compose"
    _name(op, project_directory, "project_directory")
    if pull is not None and pull not in ("always", "missing", "never"):
        raise fail(op, f'argument pull must be None, "always", "missing" or "never", got {pull!r}')
    bits = _words(op, "compose_command", compose_command)
    bits += ["--project-directory", QuoteString(project_directory)]
    bits += _given(("--project-name", project_name))
    bits += _repeat("-f", _strings(op, files, "files"))
    if present:
        bits += ["up", "-d"]
        if pull:
            bits += ["--pull", pull]
        if build:
            bits.append("--build")
        if force_recreate:
            bits.append("--force-recreate")
    else:
        bits.append("down")
        if remove_volumes:
            bits.append("-v")
    if remove_orphans:
        bits.append("--remove-orphans")
    yield StringCommand(*bits)
    yield FactChange(facts=_ENGINE_FACTS)


# Registries -----------------------------------------------------------------------------


@operation()
def login(username: str, password: str, server: str | None = None, force: bool = False) -> Commands:
    """Log in to a registry (skipped when the Docker config already has a login for it).

    + username, password: the credentials; the password goes to ``docker login
      --password-stdin`` on standard input, never on a command line or in logs
    + server: the registry (default: Docker Hub)
    + force: log in again even when a login is stored (new credentials)
    """
    op = "docker.login"
    _name(op, username, "username")
    if not isinstance(password, str) or not password:
        raise fail(op, "argument password must be a non-empty string")
    target = server or DOCKER_HUB_SERVER
    auths = host.get_fact(DockerAuths) or []
    if not force and target in auths:
        host.noop(f"already logged in to {target}")
        return
    bits: list[Any] = ["login", "--username", QuoteString(username), "--password-stdin"]
    if server:
        bits.append(QuoteString(server))
    yield StringCommand("docker", *bits, _stdin=MaskString(password))
    expected = [*auths, target] if target not in auths else list(auths)
    yield FactChange(facts=(DockerAuths,), expect=((DockerAuths, {}, expected),))


@operation()
def logout(server: str | None = None) -> Commands:
    """Log out of a registry (skipped when the Docker config has no login for it).

    + server: the registry (default: Docker Hub)
    """
    target = server or DOCKER_HUB_SERVER
    auths = host.get_fact(DockerAuths) or []
    if target not in auths:
        host.noop(f"not logged in to {target}")
        return
    yield _docker("logout", *([QuoteString(server)] if server else []))
    remaining = [a for a in auths if a != target]
    yield FactChange(facts=(DockerAuths,), expect=((DockerAuths, {}, remaining),))
