"""Manage OpenVZ containers (``vzctl``). These operations always run their command."""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.vzctl import OpenvzContainers
from pyinfra.operations.nested import inner
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]


def _ctid(op: str, ctid: Any) -> QuoteString:
    if isinstance(ctid, bool) or not re.match(r"^[A-Za-z0-9_-]+$", str(ctid)):
        raise fail(op, f"argument ctid is not a container id: {ctid!r}")
    return QuoteString(str(ctid))


@operation(is_idempotent=False)
def start(ctid: str, force: bool = False) -> Commands:
    """Start a container (``force``: even if disabled)."""
    yield StringCommand(
        "vzctl", "start", _ctid("vzctl.start", ctid), *(["--force"] if force else [])
    )


@operation(is_idempotent=False)
def stop(ctid: str) -> Commands:
    """Stop a container."""
    yield StringCommand("vzctl", "stop", _ctid("vzctl.stop", ctid))


@operation(is_idempotent=False)
def restart(ctid: str, force: bool = False) -> Commands:
    """Stop then start a container."""
    yield from inner(stop)(ctid=ctid)
    yield from inner(start)(ctid=ctid, force=force)


@operation(is_idempotent=False)
def mount(ctid: str) -> Commands:
    """Mount a container's filesystem."""
    yield StringCommand("vzctl", "mount", _ctid("vzctl.mount", ctid))


@operation(is_idempotent=False)
def unmount(ctid: str) -> Commands:
    """Unmount a container's filesystem."""
    yield StringCommand("vzctl", "umount", _ctid("vzctl.unmount", ctid))


@operation(is_idempotent=False)
def delete(ctid: str) -> Commands:
    """Delete a container."""
    yield StringCommand("vzctl", "delete", _ctid("vzctl.delete", ctid))


@operation(is_idempotent=False)
def create(ctid: str, template: str | None = None) -> Commands:
    """Create a container (from the OS ``template``); refused if the id is taken."""
    op = "vzctl.create"
    quoted = _ctid(op, ctid)
    existing = host.get_fact(OpenvzContainers)
    if str(ctid).isdigit() and int(ctid) in existing or ctid in existing:
        raise fail(op, f"an OpenVZ container with CTID {ctid} already exists")
    yield StringCommand(
        "vzctl", "create", quoted, *(["--ostemplate", QuoteString(template)] if template else [])
    )


@operation(is_idempotent=False)
def set(ctid: str, save: bool = True, **settings: Any) -> Commands:
    """Set container options: ``hostname="web"`` -> ``--hostname web`` (a list value
    repeats the option); ``save`` keeps them in the container's config."""
    op = "vzctl.set"
    bits: list[Any] = ["vzctl", "set", _ctid(op, ctid)]
    if save:
        bits.append("--save")
    for key, value in settings.items():
        if not re.match(r"^[a-z][a-z0-9_-]*$", key):
            raise fail(op, f"not a vzctl option: {key!r}")
        for item in value if isinstance(value, list) else [value]:
            bits += [QuoteString(f"--{key}"), QuoteString(str(item))]
    yield StringCommand(*bits)
