"""dnf (Fedora, RHEL 8+ and derivatives): packages, repositories, ``.rpm`` files, keys,
module streams. Changes are dry-run first (``--assumeno``); see ``_rpmfamily``."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.dnf import DnfDisabledModules, DnfEnabledModules, DnfRepositories
from pyinfra.operations import _rpmfamily as family
from pyinfra.operations._packaging import probe
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]


def _manager(op: str) -> Any:
    return family.dnf_manager(op, "dnf", [], [])


@operation()
def key(src: str) -> Commands:
    """Import a gpg key file or URL into rpm (``rpm --import``); a key file rpm already
    has is not imported again."""
    yield from family.rpm_key("dnf.key", _manager("dnf.key"), src)


@operation()
def repo(
    src: str,
    present: bool = True,
    baseurl: str | None = None,
    description: str | None = None,
    enabled: bool = True,
    gpgcheck: bool = True,
    gpgkey: str | None = None,
) -> Commands:
    """Add or remove ``/etc/yum.repos.d/<src>.repo``: downloaded when ``src`` is a URL,
    else written from ``baseurl``/``description``/``enabled``/``gpgcheck``/``gpgkey``."""
    yield from family.repo_file(
        "dnf.repo", _manager("dnf.repo"), "/etc/yum.repos.d", src, present, baseurl,
        description, enabled, gpgcheck, gpgkey, facts=(DnfRepositories,),
    )  # fmt: skip


@operation()
def rpm(src: str, present: bool = True) -> Commands:
    """Install (``dnf install FILE``, dependencies included) or remove the package of an
    ``.rpm`` file on the host or at a URL."""
    yield from family.rpm_file("dnf.rpm", _manager("dnf.rpm"), src, present)


@operation()
def update() -> Commands:
    """``dnf upgrade -y``, only when dnf has something to upgrade."""
    yield from family.dnf_update("dnf.update", "dnf")


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    update: bool = False,
    clean: bool = False,
    nobest: bool = False,
    extra_install_args: str | None = None,
    extra_uninstall_args: str | None = None,
) -> Commands:
    """Install, upgrade (``latest``) or remove dnf packages; ``name=version`` pins.

    ``clean``/``update`` run ``dnf clean all``/``dnf upgrade`` first; ``nobest`` and
    ``extra_install_args`` change the install, ``extra_uninstall_args`` the removal.
    """
    yield from family.dnf_packages(
        "dnf", packages, present, latest, update, clean, nobest,
        extra_install_args, extra_uninstall_args,
    )  # fmt: skip


@operation()
def module(module: str, stream: str | None = None, enabled: bool = True) -> Commands:
    """Enable a module stream (``module:stream``) or disable a module."""
    op = "dnf.module"
    if not isinstance(module, str) or not module.strip() or ":" in module:
        raise fail(op, f"argument module must be a module name, got {module!r}")
    if enabled:
        if not stream:
            raise fail(op, "stream is required to enable a module (e.g. stream='16')")
        current = host.get_fact(DnfEnabledModules)
        if current.get(module) == stream:
            host.noop(f"module {module}:{stream} is enabled")
            return
        probe(_manager(op))
        yield StringCommand("dnf", "module", "enable", "-y", QuoteString(f"{module}:{stream}"))
        yield FactChange(
            facts=(DnfDisabledModules,),
            known=((DnfEnabledModules, {}, {**current, module: stream}),),
        )
        return
    disabled = host.get_fact(DnfDisabledModules)
    if module in disabled:
        host.noop(f"module {module} is disabled")
        return
    probe(_manager(op))
    yield StringCommand("dnf", "module", "disable", "-y", QuoteString(module))
    yield FactChange(
        facts=(DnfEnabledModules,),
        known=((DnfDisabledModules, {}, sorted({*disabled, module})),),
    )
