"""dnf, rpm, zypper and pacman operations with the real tools (Debian 12's packages)
against local repositories built into the package image: the first run through
``@docker`` as root changes everything, the same deploy through SSH as a non-root
user with ``_sudo`` changes nothing; the managers' own refusals come back as one line.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pyinfra.api.facts import fact_fetch_counts
from pyinfra.operations import dnf, pacman, zypper
from tests.helpers.deploykit import run
from tests.helpers.pkgtarget import PkgContainer, pkg_container


@pytest.fixture(scope="module")
def target() -> Iterator[PkgContainer]:
    with pkg_container() as c:
        c.exec("rpm -i /srv/pyi/rpm/pyi-hello-1.0-1.noarch.rpm")  # to upgrade
        yield c


def deploy(sudo: bool) -> None:
    root = {"_sudo": True} if sudo else {}
    dnf.repo(src="pyi", baseurl="file:///srv/pyi/rpm", gpgcheck=False, **root)
    dnf.packages(packages=["pyi-hello"], latest=True, **root)  # 1.0 -> 2.0
    dnf.rpm(src="/srv/pyi/rpms/pyi-local-1.0-1.noarch.rpm", **root)
    zypper.repo(src="pyi-z", baseurl="file:///srv/pyi/rpm", gpgcheck=False, **root)
    zypper.packages(packages=["pyi-other=1.0"], **root)
    pacman.packages(packages=["pyi-group"], **root)  # a group: both members


def test_rpm_and_pacman_deploy(target: PkgContainer) -> None:
    c = target
    with c.host("docker") as host:
        first = run(host, lambda: deploy(False))
    assert [r.changed for r in first] == [True] * len(first), [(r.name, r.noops) for r in first]
    rpms = set(c.exec("rpm -qa --qf '%{NAME}-%{VERSION}\\n'").split())
    assert rpms == {"pyi-hello-2.0", "pyi-local-1.0", "pyi-other-1.0"}
    assert c.exec("pacman -Q").split() == ["pyi-hello", "2.0-1", "pyi-other", "1.0-1"]
    with c.host("ssh") as host:
        second = run(host, lambda: deploy(True))
        assert [r.name for r in second if r.changed or r.commands] == []
        counts = fact_fetch_counts(host)
    assert counts.get("rpm.RpmPackages") == 1 and counts.get("pacman.PacmanPackages") == 1
    with c.host("docker") as host:
        removed = run(
            host,
            lambda: (
                dnf.packages(packages=["pyi-local"], present=False),
                zypper.packages(packages=["pyi-other"], present=False),
                pacman.packages(packages=["pyi-other"], present=False),
            ),
        )
    assert [r.changed for r in removed] == [True, True, True]
    assert set(c.exec("rpm -qa --qf '%{NAME}\\n'").split()) == {"pyi-hello"}
    assert c.exec("pacman -Q").split() == ["pyi-hello", "2.0-1"]


def test_manager_errors(target: PkgContainer) -> None:
    c = target
    cases = [
        (lambda: dnf.packages(packages=["pyi-nosuch"]), "dnf.packages: "),
        (lambda: zypper.packages(packages=["pyi-nosuch"]), "No provider of 'pyi-nosuch' found."),
        (lambda: pacman.packages(packages=["pyi-nosuch"]), "target not found: pyi-nosuch"),
        (lambda: dnf.repo(src="nourl"), "baseurl is required"),
    ]
    before = c.exec("rpm -qa | sort; pacman -Q")
    with c.host("docker") as host:
        for op, message in cases:
            results = run(host, op, expect_success=False)
            failed = [r for r in results if r.success is False]
            assert failed and message in (failed[0].error or ""), failed
            assert failed[0].commands == []
    with c.host("ssh") as host:  # no _sudo
        results = run(host, lambda: dnf.packages(packages=["pyi-other"]), expect_success=False)
        assert results[-1].error == "dnf.packages: permission denied: add _sudo=True"
    assert c.exec("rpm -qa | sort; pacman -Q") == before
