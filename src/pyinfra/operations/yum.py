"""yum (CentOS/RHEL 7 and older): packages, repositories, ``.rpm`` files, keys.
Changes are dry-run first (``--assumeno``); see ``_rpmfamily``."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.operation import operation
from pyinfra.facts.yum import YumRepositories
from pyinfra.operations import _rpmfamily as family

Commands = Generator[Any, Any, None]


def _manager(op: str) -> Any:
    return family.dnf_manager(op, "yum", [], [])


@operation()
def key(src: str) -> Commands:
    """Import a gpg key file or URL into rpm (``rpm --import``); a key file rpm already
    has is not imported again."""
    yield from family.rpm_key("yum.key", _manager("yum.key"), src)


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
        "yum.repo", _manager("yum.repo"), "/etc/yum.repos.d", src, present, baseurl,
        description, enabled, gpgcheck, gpgkey, facts=(YumRepositories,),
    )  # fmt: skip


@operation()
def rpm(src: str, present: bool = True) -> Commands:
    """Install (``yum install FILE``, dependencies included) or remove the package of an
    ``.rpm`` file on the host or at a URL."""
    yield from family.rpm_file("yum.rpm", _manager("yum.rpm"), src, present)


@operation()
def update() -> Commands:
    """``yum update -y``, only when yum has something to update."""
    yield from family.dnf_update("yum.update", "yum")


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
    """Install, upgrade (``latest``) or remove yum packages; ``name=version`` pins.

    ``clean``/``update`` run ``yum clean all``/``yum update`` first; ``nobest`` and
    ``extra_install_args`` change the install, ``extra_uninstall_args`` the removal.
    """
    yield from family.dnf_packages(
        "yum", packages, present, latest, update, clean, nobest,
        extra_install_args, extra_uninstall_args,
    )  # fmt: skip
