"""Manage LXD containers (``lxc``)."""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.lxd import LxdContainers
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]


def get_container_named(name: str, containers: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((c for c in containers if c.get("name") == name), None)


@operation()
def container(id: str, present: bool = True, image: str = "ubuntu:16.04") -> Commands:
    """Create (``lxc launch IMAGE ID``) or remove (stopped first) a container. An
    existing container is not checked against ``image``."""
    op = "lxd.container"
    if not isinstance(id, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9-]*$", id):
        raise fail(op, f"argument id is not a container name: {id!r}")
    if not isinstance(image, str) or not image or any(c.isspace() for c in image):
        raise fail(op, f"argument image is not an image name: {image!r}")
    containers = host.get_fact(LxdContainers)
    current = get_container_named(id, containers)
    if not present:
        if current is None:
            host.noop(f"container {id} does not exist")
            return
        if current.get("status") == "Running":
            yield StringCommand("lxc", "stop", QuoteString(id))
        yield StringCommand("lxc", "delete", QuoteString(id))
        remaining = [c for c in containers if c.get("name") != id]
        yield FactChange(facts=(LxdContainers,), expect=((LxdContainers, {}, remaining),))
        return
    if current is not None:
        host.noop(f"container {id} exists")
        return
    yield StringCommand("lxc", "launch", QuoteString(image), QuoteString(id), "< /dev/null")
    new = [*containers, {"name": id, "status": "Running"}]
    yield FactChange(facts=(LxdContainers,), expect=((LxdContainers, {}, new),))
