"""Command generation of the package managers this machine cannot run (apk, xbps,
opkg, pkgin, pkg, brew, snap, flatpak, choco, npm, gem, cargo, go, FreeBSD) through
the ``@fake`` connector: scripted fact output in, the changing commands out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pyinfra.api import Config, Inventory, State
from pyinfra.api.host import Host
from pyinfra.connectors.fake import FakeConnector
from pyinfra.operations import (
    apk,
    brew,
    cargo,
    choco,
    flatpak,
    gem,
    go,
    npm,
    opkg,
    pkg,
    pkgin,
    snap,
    xbps,
)
from pyinfra.operations.freebsd import freebsd_update
from pyinfra.operations.freebsd import pkg as freebsd_pkg
from tests.helpers.deploykit import run

PROBE_OK = "__pyinfra_probe_exit__ 0"


@pytest.fixture
def fake() -> Iterator[Host]:
    FakeConnector.reset()
    inventory = Inventory((["@fake/pkg"], {}))
    State(inventory, Config())
    host = next(iter(inventory))
    host.connect(raise_exceptions=True)
    yield host
    host.disconnect()
    FakeConnector.reset()


def changing(host: Host) -> list[str]:
    """The commands the operations ran (fact reads and probes left out)."""
    return [
        c.command
        for c in FakeConnector.commands_for(host.name)
        if "__pyinfra_" not in c.command and not _is_read(c.command)
    ]


def _is_read(command: str) -> bool:
    return command in _EXACT_READS or command.startswith(_READS)


_READS = (
    "apk list",
    "xbps-query",
    "opkg list",
    "pkgin list",
    "pkg info",
    "brew list",
    "snap list",
    "snap info",
    "flatpak list",
    "choco list",
    "npm list",
    "gem list",
    "cargo install --list",
    "BINDIR=",
    "pkg -j web info",
)
_EXACT_READS = {"brew tap", "brew trust --json=v1"}


CASES: list[tuple[str, dict[str, str], Callable[[], Any], list[str]]] = [
    (
        "apk",
        {
            "apk list": "musl-1.2.4-r2 x86_64 {musl} (MIT) [installed]\n",
            "apk add --simulate": f"(1/1) Installing curl (8.5.0-r0)\nOK\n{PROBE_OK}\n",
            "apk del --simulate": f"(1/1) Purging musl (1.2.4-r2)\n{PROBE_OK}\n",
        },
        lambda: (
            apk.packages(packages=["curl", "musl"]),
            apk.packages(packages=["curl"]),  # known from the dry run: no new read
            apk.packages(packages=["musl"], present=False),
        ),
        ["apk add curl", "apk del musl"],
    ),
    (
        "xbps",
        {"xbps-query": "ii vim-9.0.2_1 Vi\n", "command -v xbps": PROBE_OK},
        lambda: xbps.packages(packages=["vim", "htop"], update=True),
        ["xbps-install -S", "xbps-install -y htop"],
    ),
    (
        "opkg",
        {"opkg list-installed": "bash - 5.2-1\n", "command -v opkg": PROBE_OK},
        lambda: opkg.packages(packages=["bash", "curl"]),
        ["opkg update", "opkg install curl"],
    ),
    (
        "pkgin",
        {"pkgin list": "vim-9.0.2 Vi\n", "command -v pkgin": PROBE_OK},
        lambda: pkgin.packages(packages=["vim"], present=False),
        ["pkgin -y remove vim"],
    ),
    (
        "pkg",
        {"pkg info": "vim-9.0.2 Vi\n", "command -v sh": PROBE_OK},
        lambda: pkg.packages(packages=["vim", "curl"], pkg_path="http://mirror.invalid/"),
        [
            "if command -v pkg >/dev/null 2>&1; then pkg install -y curl ; "
            "else PKG_PATH=http://mirror.invalid/ pkg_add curl ; fi"
        ],
    ),
    (
        "brew",
        {
            "brew list --versions": "git 2.43.0\n",
            "brew tap": "homebrew/core\n",
            "brew trust": '{"taps": []}',
            "command -v brew": PROBE_OK,
        },
        lambda: (
            brew.packages(packages=["git", "jq"]),
            brew.packages(packages=["git"], latest=True),
            brew.tap(src="includeos/includeos", trusted=True),
        ),
        [
            "brew install jq",
            "brew upgrade git",
            "brew tap includeos/includeos",
            "brew trust --tap includeos/includeos",
        ],
    ),
    (
        "snap",
        {
            "snap list": "Name Version Rev Tracking Publisher Notes\nlxd 5.0 1 5.0/stable c -\n",
            "snap info lxd": "name: lxd\ntracking:     5.0/stable\n",
            "command -v snap": PROBE_OK,
        },
        lambda: snap.package(packages=["lxd", "vlc"], channel="latest/stable", classic=True),
        [
            "snap install --classic --channel latest/stable vlc",
            "snap refresh --channel latest/stable lxd",
        ],
    ),
    (
        "flatpak",
        {"flatpak list": "Application ID\norg.videolan.VLC\n", "command -v flatpak": PROBE_OK},
        lambda: flatpak.packages(packages=["org.videolan.VLC", "org.gimp.GIMP"], remote="flathub"),
        ["flatpak install --noninteractive flathub org.gimp.GIMP"],
    ),
    (
        "choco",
        {"choco list": "Chocolatey v2.2.2\ngit 2.43.0\n", "command -v choco": PROBE_OK},
        lambda: choco.packages(packages=["git", "vim=9.0"]),
        ["choco install -y vim --version 9.0"],
    ),
    (
        "npm",
        {"npm list": "/app\n└── left-pad@1.3.0\n", "command -v npm": PROBE_OK},
        lambda: npm.packages(packages=["left-pad", "@scope/tool@2.0.0"], directory="/app"),
        ["cd /app && npm install @scope/tool@2.0.0"],
    ),
    (
        "gem",
        {"gem list": "rake (13.0.6)\n", "command -v gem": PROBE_OK},
        lambda: gem.packages(packages=["rake:13.0.6", "bundler"]),
        ["gem install bundler"],
    ),
    (
        "cargo",
        {"cargo install --list": "ripgrep v13.0.0:\n    rg\n", "command -v cargo": PROBE_OK},
        lambda: cargo.packages(packages=["ripgrep", "bat@0.24.0"]),
        ["cargo install bat --version 0.24.0"],
    ),
    (
        "go",
        {"BINDIR=": "", "command -v go": PROBE_OK},
        lambda: go.packages(packages=["github.com/x/hello@v1.2.3"]),
        ["go install github.com/x/hello@v1.2.3"],
    ),
    (
        "freebsd",
        {"info -e": "", "command -v pkg": PROBE_OK, "command -v freebsd-update": PROBE_OK},
        lambda: (
            freebsd_pkg.install(package="curl", jail="web"),
            freebsd_update.update(force=True, server="update.invalid"),
        ),
        [
            "pkg -j web install -y curl",
            "PAGER=cat freebsd-update --not-running-from-cron -F -s update.invalid fetch install",
        ],
    ),
]


@pytest.mark.parametrize(("name", "script", "deploy", "expected"), CASES, ids=[c[0] for c in CASES])
def test_command_generation(
    fake: Host,
    name: str,
    script: dict[str, str],
    deploy: Callable[[], Any],
    expected: list[str],
) -> None:
    for pattern, stdout in script.items():
        FakeConnector.script(pattern, stdout=stdout)
    run(fake, deploy)
    assert changing(fake) == expected
    reads = [
        c.command for c in FakeConnector.commands_for(fake.name) if c.command.startswith(_READS)
    ]
    assert len([r for r in reads if not r.startswith(("snap info", "BINDIR="))]) <= 2, reads


def test_absent_manager_and_privileges(fake: Host) -> None:
    FakeConnector.script("command -v apk", stdout="__pyinfra_probe_missing__")
    results = run(fake, lambda: apk.packages(packages=["curl"]), expect_success=False)
    assert results[-1].error == "apk.packages: apk not found on @fake/pkg: not an Alpine host?"
    FakeConnector.reset()
    FakeConnector.script("command -v xbps-install", stdout="__pyinfra_probe_not_root__")
    results = run(fake, lambda: xbps.packages(packages=["vim"]), expect_success=False)
    assert results[-1].error == "xbps.packages: permission denied: add _sudo=True"
    assert changing(fake) == []
