"""zypper (openSUSE, SLES): packages, repositories, ``.rpm`` files, keys.
Changes are dry-run first (``zypper --xmlout ... --dry-run``); see ``_rpmfamily``."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.operation import operation
from pyinfra.facts.rpm import RpmPackage, RpmPackages
from pyinfra.facts.zypper import ZypperRepositories
from pyinfra.operations import _rpmfamily as family
from pyinfra.operations._packaging import ensure_packages, extra_args, package_specs, run_command

Commands = Generator[Any, Any, None]


def _manager(op: str) -> Any:
    return family.zypper_manager(op, [], [], [], [])


@operation()
def key(src: str) -> Commands:
    """Import a gpg key file or URL into rpm (``rpm --import``); a key file rpm already
    has is not imported again."""
    yield from family.rpm_key("zypper.key", _manager("zypper.key"), src)


yum_key = key  # pyinfra 3.x's name for the same operation


@operation()
def repo(
    src: str,
    baseurl: str | None = None,
    present: bool = True,
    description: str | None = None,
    enabled: bool = True,
    gpgcheck: bool = True,
    gpgkey: str | None = None,
    type: str = "rpm-md",
) -> Commands:
    """Add or remove ``/etc/zypp/repos.d/<src>.repo``: downloaded when ``src`` is a URL,
    else written from ``baseurl`` and the other fields (``type``: ``rpm-md``...)."""
    yield from family.repo_file(
        "zypper.repo", _manager("zypper.repo"), "/etc/zypp/repos.d", src, present, baseurl,
        description, enabled, gpgcheck, gpgkey, repo_type=type, facts=(ZypperRepositories,),
    )  # fmt: skip


@operation()
def rpm(src: str, present: bool = True) -> Commands:
    """Install (dependencies included) or remove the package of an ``.rpm`` file on the
    host or at a URL."""
    yield from family.rpm_file("zypper.rpm", _manager("zypper.rpm"), src, present)


@operation()
def update() -> Commands:
    """``zypper update``, only when zypper has something to update."""
    yield from family.zypper_update("zypper.update")


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    update: bool = False,
    clean: bool = False,
    extra_global_install_args: str | None = None,
    extra_install_args: str | None = None,
    extra_global_uninstall_args: str | None = None,
    extra_uninstall_args: str | None = None,
) -> Commands:
    """Install, upgrade (``latest``) or remove zypper packages; ``name=version`` pins.

    ``clean``/``update`` run ``zypper clean --all``/``zypper update`` first; the
    ``extra_global_*`` arguments go before the subcommand, the others after it.
    """
    op = "zypper.packages"
    specs = package_specs(op, packages, present, latest, "=", family._VERSION)
    manager = family.zypper_manager(
        op,
        extra_args(extra_global_install_args),
        extra_args(extra_install_args),
        extra_args(extra_global_uninstall_args),
        extra_args(extra_uninstall_args),
    )
    if clean:
        yield from run_command(
            manager, StringCommand("zypper", "--non-interactive", "clean", "--all")
        )
    if update:
        yield from family.zypper_update(op)
    yield from ensure_packages(
        manager, RpmPackages, specs, present, latest, also_drop=(RpmPackage,)
    )
