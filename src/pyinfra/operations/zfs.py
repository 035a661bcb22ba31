"""Manage ZFS datasets: filesystems, volumes and snapshots, and their properties."""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.zfs import ZfsDatasets, ZfsSnapshots
from pyinfra.operations.nested import inner
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]
_DATASET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]*$")
_PROPERTY = re.compile(r"^[a-z0-9_.:]+$")


def _check(op: str, name: Any, properties: dict[str, Any]) -> None:
    if not isinstance(name, str) or not _DATASET.match(name) or "//" in name:
        raise fail(op, f"not a ZFS dataset name: {name!r}")
    for key, value in properties.items():
        if not _PROPERTY.match(str(key)):
            raise fail(op, f"not a ZFS property name: {key!r}")
        if "\n" in str(value):
            raise fail(op, f"property {key} must be a single line, got {value!r}")


def _property_options(properties: dict[str, Any]) -> list[Any]:
    options: list[Any] = []
    for key, value in properties.items():
        options += ["-o", QuoteString(f"{key}={value}")]
    return options


@operation()
def dataset(
    dataset_name: str,
    present: bool = True,
    recursive: bool = False,
    sparse: bool | None = None,
    volume_size: str | int | None = None,
    properties: dict[str, Any] | None = None,
    **extra_props: Any,
) -> Commands:
    """Create, destroy or set properties on a ZFS dataset.

    + dataset_name: ``pool/path`` (``pool/path@snap`` for a snapshot)
    + present: whether it should exist
    + recursive: create missing parents (``-p``) / destroy children (``-r``)
    + sparse, volume_size: make a (sparse) volume of that size
    + properties, **extra_props: properties to set (merged)
    """
    op = "zfs.dataset"
    props = {**(properties or {}), **extra_props}
    _check(op, dataset_name, props)
    datasets = host.get_fact(ZfsDatasets)
    existing = datasets.get(dataset_name)
    if present and not existing:
        bits: list[Any] = ["zfs", "create", *_property_options(props)]
        if recursive:
            bits.append("-p")
        if sparse:
            bits.append("-s")
        if volume_size:
            bits += ["-V", QuoteString(str(volume_size))]
        yield StringCommand(*bits, QuoteString(dataset_name))
        kind = "volume" if volume_size else "snapshot" if "@" in dataset_name else "filesystem"
        new = {"type": kind, **{k: str(v) for k, v in props.items()}}
        yield FactChange(
            facts=(ZfsDatasets,), expect=((ZfsDatasets, {}, {**datasets, dataset_name: new}),)
        )
    elif present and existing:
        changes = {k: v for k, v in props.items() if existing.get(k) != str(v)}
        if not changes:
            host.noop(f"{dataset_name} is already present")
            return
        yield StringCommand(
            "zfs", "set", *[QuoteString(f"{k}={v}") for k, v in changes.items()],
            QuoteString(dataset_name),
        )  # fmt: skip
        new = {**existing, **{k: str(v) for k, v in changes.items()}}
        yield FactChange(
            facts=(ZfsDatasets,), expect=((ZfsDatasets, {}, {**datasets, dataset_name: new}),)
        )
    elif existing and not present:
        yield StringCommand(
            "zfs", "destroy", *(["-r"] if recursive else []), QuoteString(dataset_name)
        )
        children = (f"{dataset_name}/", f"{dataset_name}@")
        remaining = {
            k: v
            for k, v in datasets.items()
            if k != dataset_name and not (recursive and k.startswith(children))
        }
        yield FactChange(facts=(ZfsDatasets,), expect=((ZfsDatasets, {}, remaining),))
    else:
        host.noop(f"{dataset_name} is already absent")


@operation()
def snapshot(
    snapshot_name: str,
    present: bool = True,
    recursive: bool = False,
    properties: dict[str, Any] | None = None,
    **extra_props: Any,
) -> Commands:
    """Create (``zfs snapshot``, ``recursive``: of the children too) or destroy a
    snapshot, or set its properties."""
    op = "zfs.snapshot"
    props = {**(properties or {}), **extra_props}
    _check(op, snapshot_name, props)
    if "@" not in snapshot_name:
        raise fail(op, f"a snapshot name is DATASET@NAME, got {snapshot_name!r}")
    if snapshot_name in host.get_fact(ZfsSnapshots) or not present:
        yield from inner(dataset)(snapshot_name, present=present, properties=props)
        return
    yield StringCommand(
        "zfs", "snapshot", *_property_options(props), *(["-r"] if recursive else []),
        QuoteString(snapshot_name),
    )  # fmt: skip
    yield FactChange(facts=(ZfsDatasets,))


@operation()
def volume(
    volume_name: str,
    size: str | int,
    sparse: bool = False,
    present: bool = True,
    recursive: bool = False,
    properties: dict[str, Any] | None = None,
    **extra_props: Any,
) -> Commands:
    """Create or destroy a volume of ``size`` (``sparse``: no reservation), or set its
    properties."""
    yield from inner(dataset)(
        volume_name,
        present=present,
        recursive=recursive,
        sparse=sparse,
        volume_size=size,
        properties={**(properties or {}), **extra_props},
    )


@operation()
def filesystem(
    fs_name: str,
    present: bool = True,
    recursive: bool = False,
    properties: dict[str, Any] | None = None,
    **extra_props: Any,
) -> Commands:
    """Create or destroy a filesystem, or set its properties."""
    yield from inner(dataset)(
        fs_name,
        present=present,
        recursive=recursive,
        properties={**(properties or {}), **extra_props},
    )
