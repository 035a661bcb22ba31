"""apt, deb and pip operations against the real tools, on containers of the package
image (tests/helpers/pkgtarget.py): through ``@docker`` as root and through SSH as a
non-root user with ``_sudo``. The acceptance deploy adds a signed local repository,
pins, installs (with a dependency), upgrades and removes packages, installs a ``.deb``
and fills a virtualenv from the local wheelhouse: a dry run changes nothing, the first
run changes, the second changes nothing and runs no changing command.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pyinfra.api.facts import fact_fetch_counts
from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apk, apt, pip, server
from tests.helpers.deploykit import run
from tests.helpers.pkgtarget import PkgContainer, pkg_container

REPO_LINE = "deb [signed-by=/etc/apt/keyrings/pyi.gpg] file:/srv/pyi/apt ./"
# A view of everything the deploy may change (to prove a dry run changed nothing).
SNAPSHOT = (
    "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n'; "
    "cat /etc/apt/sources.list.d/* 2>/dev/null; ls -la /etc/apt/keyrings; "
    "ls /opt/venv /home/pyi/venv 2>&1; true"
)


def prepare(c: PkgContainer) -> None:
    """Start state: pyi-hello 1.0 (to upgrade) and GNU hello (to remove) installed."""
    c.exec("dpkg -i /srv/pyi/apt/pyi-hello_1.0_all.deb /srv/pyi/apt/hello_*.deb >/dev/null")


def acceptance_deploy(venv: str, sudo: bool) -> Any:
    root: dict[str, Any] = {"_sudo": True} if sudo else {}

    def deploy() -> None:
        apt.key(src="/srv/pyi/keys/pyi-repo.asc", dest="pyi.gpg", **root)
        apt.repo(src=REPO_LINE, filename="pyi", **root)
        apt.update(cache_time=3600, **root)
        apt.packages(packages=["pyi-hello"], latest=True, **root)  # upgrade 1.0 -> 2.0
        apt.packages(packages=["pyi-other=1.0", "tree"], **root)  # pin + plain install
        apt.packages(packages=["pyi-tool"], no_recommends=True, **root)  # + pyi-dep
        apt.deb(src="/srv/pyi/debs/pyi-local_1.0_all.deb", **root)
        apt.packages(packages=["hello"], present=False, purge=True, **root)
        pip.venv(path=venv)
        pip.packages(packages=["six==1.16.0", "toml"], virtualenv=venv)
        pip.packages(packages=["cowsay"], latest=True, virtualenv=venv)

    return deploy


def installed(c: PkgContainer) -> dict[str, str]:
    out = c.exec("dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n'")
    return {
        line.split()[0]: line.split()[1] for line in out.splitlines() if line.split()[2:] == ["ii"]
    }


def check_first_run(c: PkgContainer, results: list[OperationMeta], venv: str) -> None:
    assert [r.changed for r in results] == [True] * len(results), [
        (r.name, r.changed, r.noops) for r in results
    ]
    have = installed(c)
    assert have["pyi-hello"] == "2.0"
    assert have["pyi-other"] == "1.0" and have["tree"] == "2.1.0-1"
    assert have["pyi-tool"] == "1.0" and have["pyi-dep"] == "1.0"
    assert have["pyi-local"] == "1.0"
    assert "hello" not in have
    freeze = c.exec(f"{venv}/bin/pip freeze")
    assert "six==1.16.0" in freeze and "toml==0.10.2" in freeze and "cowsay==6.1" in freeze


def check_second_run(host: Host, results: list[OperationMeta]) -> None:
    changed = [(r.name, [c.command for c in r.commands]) for r in results if r.changed]
    assert changed == []
    assert all(r.commands == [] for r in results)
    assert all(r.noops for r in results)  # each says why there is nothing to do
    # The package list was read once for all the apt operations of the run.
    assert fact_fetch_counts(host).get("deb.DebPackages") == 1


@pytest.fixture(scope="module")
def docker_target() -> Iterator[PkgContainer]:
    with pkg_container() as c:
        prepare(c)
        yield c


@pytest.fixture(scope="module")
def ssh_target() -> Iterator[PkgContainer]:
    with pkg_container() as c:
        prepare(c)
        yield c


@pytest.mark.parametrize("kind", ["docker", "ssh"])
def test_acceptance_deploy_dry_then_twice(
    kind: str, docker_target: PkgContainer, ssh_target: PkgContainer
) -> None:
    c = docker_target if kind == "docker" else ssh_target
    sudo = kind == "ssh"
    venv = "/opt/venv" if kind == "docker" else "/home/pyi/venv"
    deploy = acceptance_deploy(venv, sudo)
    with c.host(kind) as host:
        before = c.exec(SNAPSHOT)
        dry = run(host, deploy, dry=True)
        assert c.exec(SNAPSHOT) == before
        # Every change is predicted, except the upgrade: its newer version comes from
        # the repository the dry run only pretended to add (apt's dry run cannot see it).
        unchanged = [r.name for r in dry if not r.changed]
        assert unchanged == ["apt.packages (packages=['pyi-hello'], latest=True)"], unchanged
        first = run(host, deploy)
        check_first_run(c, first, venv)
    with c.host(kind) as host:  # a new run: fresh fact cache
        second = run(host, deploy)
        check_second_run(host, second)
    if kind == "ssh":  # the venv belongs to the user who made it (no sudo for pip)
        assert c.exec(f"stat -c %U {venv}/bin/pip").strip() == "pyi"


def test_package_list_read_once_and_updated_in_place(docker_target: PkgContainer) -> None:
    """Changes update deb.DebPackages without a new read, with the versions apt chose
    (dependencies included), and a later reader sees them."""
    c = docker_target
    seen: dict[str, Any] = {}

    def deploy() -> None:
        from pyinfra import host

        apt.packages(packages=["pyi-dep"], present=False)  # also removes pyi-tool
        apt.packages(packages=["pyi-tool"])  # brings pyi-dep back
        seen["packages"] = host.get_fact(DebPackages)

    with c.host("docker") as host:
        results = run(host, deploy)
        assert [r.changed for r in results] == [True, True]
        assert fact_fetch_counts(host).get("deb.DebPackages") == 1
    assert seen["packages"]["pyi-tool"] == {"1.0"} and seen["packages"]["pyi-dep"] == {"1.0"}
    real = installed(c)
    assert {k: {v} for k, v in real.items()} == {
        k: v for k, v in seen["packages"].items() if k in real
    }


def _error(results: list[OperationMeta]) -> str:
    failed = [r for r in results if r.success is False]
    assert failed, f"did not fail: {[(r.name, r.noops, r.commands) for r in results]}"
    assert failed[0].commands == []  # refused before any command ran
    return failed[0].error or ""


def test_bad_input_errors(docker_target: PkgContainer, ssh_target: PkgContainer) -> None:
    """One line each, nothing changed on the target."""
    c = docker_target
    c.exec("test -x /opt/venv-bad/bin/pip || python3 -m venv /opt/venv-bad")
    before = c.exec(SNAPSHOT)
    cases: list[tuple[Any, str]] = [
        (lambda: apt.packages(packages=["pyi-nosuch"]), "E: Unable to locate package pyi-nosuch"),
        (
            lambda: apt.packages(packages=["tree"], present=False, latest=True),
            "present=False and latest=True contradict each other",
        ),
        (lambda: apt.packages(packages=["pyi-hello="]), "invalid version spec 'pyi-hello='"),
        (lambda: apt.packages(packages=["pyi-hello=1.0 2"]), "contains whitespace"),
        (lambda: apk.packages(packages=["curl"]), "apk not found on @docker/"),
        (
            lambda: apt.packages(packages=["tree"], _env={"PATH": "/nonexistent"}),
            "apt-get not found on @docker/",
        ),
        (
            lambda: pip.packages(packages=["six=1.0"], virtualenv="/opt/venv-bad"),
            "invalid requirement",
        ),
        (
            lambda: pip.packages(packages=["pyi-nosuch-wheel"], virtualenv="/opt/venv-bad"),
            "No matching distribution found for pyi-nosuch-wheel",
        ),
        (lambda: apt.repo(src="not a source line"), "not an apt source line"),
        (lambda: apt.key(src="/srv/pyi/keys/missing.asc"), "key file /srv/pyi/keys/missing.asc"),
    ]
    with c.host("docker") as host:
        for deploy, message in cases:
            results = run(host, deploy, expect_success=False)
            error = _error(results)
            assert message in error, error
            assert "\n" not in error
    assert "not a Debian-family host?" in error_for(c, "docker", cases[5][0])
    assert c.exec(SNAPSHOT) == before
    with ssh_target.host("ssh") as host:  # a user without _sudo
        for deploy in (
            lambda: apt.packages(packages=["pyi-not-installed"]),
            lambda: apt.repo(src="deb file:/srv/other ./", filename="other"),
            lambda: apt.update(),
        ):
            error = _error(run(host, deploy, expect_success=False))
            assert error.endswith("permission denied: add _sudo=True"), error


def error_for(c: PkgContainer, kind: str, deploy: Any) -> str:
    with c.host(kind) as host:
        return _error(run(host, deploy, expect_success=False))


def test_server_packages_uses_apt(docker_target: PkgContainer) -> None:
    c = docker_target

    def deploy() -> None:
        server.packages(packages=["pyi-other"], present=False)
        server.packages(packages=["pyi-other"])

    with c.host("docker") as host:
        results = run(host, deploy)
        assert [r.changed for r in results] == [True, True]
        assert any("apt-get" in cmd.command for cmd in results[0].commands)
        assert installed(c)["pyi-other"] == "1.0"
