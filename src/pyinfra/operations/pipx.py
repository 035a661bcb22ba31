"""pipx: Python applications in their own virtualenvs."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.pipx import PipxEnvironment, PipxPackages
from pyinfra.operations._packaging import (
    Manager,
    check_conflicts,
    ensure_packages,
    extra_args,
    package_list,
    probe,
    quoted,
)
from pyinfra.operations.pip import canonical_name, parse_spec

Commands = Generator[Any, Any, None]
HINT = "is pipx installed (apt install pipx)?"


def _manager(op: str, extra: list[str]) -> Manager:
    def install(args: list[str]) -> StringCommand:
        # one "pipx install" per application: pipx takes one spec with a version
        bits: list[Any] = []
        for arg in args:
            command = StringCommand("pipx", "install", *extra, *quoted([arg]))
            bits += ["&&", command] if bits else [command]
        return StringCommand(*bits)

    return Manager(
        op=op,
        tool="pipx",
        hint=HINT,
        install=install,
        remove=lambda args: StringCommand(
            *[b for a in args for b in ("pipx", "uninstall", *quoted([a]), "&&")][:-1]
        ),
        upgrade=lambda args: StringCommand("pipx", "upgrade", *extra, *quoted(args)),
        needs_root=False,
        canonical=canonical_name,
    )


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    extra_args: str | None = None,
) -> Commands:
    """Install, upgrade (``latest``) or uninstall pipx applications; ``name==version``
    pins. ``extra_args`` go to ``pipx install``/``pipx upgrade``."""
    op = "pipx.packages"
    check_conflicts(op, present, latest)
    specs = [parse_spec(op, raw)[0] for raw in package_list(op, packages)]
    yield from ensure_packages(
        _manager(op, _extra(extra_args)), PipxPackages, specs, present, latest
    )


def _extra(value: str | None) -> list[str]:
    return extra_args(value)


@operation()
def upgrade_all() -> Commands:
    """``pipx upgrade-all``."""
    probe(_manager("pipx.upgrade_all", []))
    yield StringCommand("pipx", "upgrade-all")
    yield FactChange(facts=(PipxPackages,))


@operation()
def ensure_path() -> Commands:
    """``pipx ensurepath``, unless pipx's bin directory is already on the ``PATH``."""
    env = host.get_fact(PipxEnvironment)
    bin_dir = env.get("PIPX_BIN_DIR")
    from pyinfra.facts.server import Command

    path = host.get_fact(Command, command="echo $PATH")
    if bin_dir and bin_dir in (path or "").split(":"):
        host.noop(f"{bin_dir} is on the PATH")
        return
    probe(_manager("pipx.ensure_path", []))
    yield StringCommand("pipx", "ensurepath")
    yield FactChange(facts=())
