"""OpenRC and runit (Debian's packages, started by hand in a container) and a BusyBox
userland (every command a BusyBox applet, PATH=/bb)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pyinfra.api.host import Host
from pyinfra.facts import hardware
from pyinfra.facts import server as S
from pyinfra.facts.crontab import Crontab
from pyinfra.facts.openrc import OpenrcEnabled, OpenrcStatus
from pyinfra.facts.runit import RunitManaged, RunitStatus
from pyinfra.operations import crontab, openrc, runit, server
from tests.helpers.deploykit import run
from tests.helpers.syskit import RC_IMAGE, Box, start_box

OPENRC_SCRIPT = (
    "#!/usr/sbin/openrc-run\ncommand=/bin/sleep\ncommand_args=1000\n"
    "command_background=true\npidfile=/run/pyisysd.pid\n"
)


@pytest.fixture(scope="module")
def rc_box() -> Iterator[Box]:
    box = start_box(RC_IMAGE, tag="rc")
    try:
        box.sh(
            f"printf '%s' '{OPENRC_SCRIPT}' > /etc/init.d/pyisysd && chmod 755 /etc/init.d/pyisysd"
            " && mkdir -p /run/openrc && touch /run/openrc/softlevel"
            " && { openrc default >/dev/null 2>&1; true; }"
            " && mkdir -p /etc/sv/pyisysr /var/service"
            " && printf '#!/bin/sh\\nexec sleep 1000\\n' > /etc/sv/pyisysr/run"
            " && chmod 755 /etc/sv/pyisysr/run"
            " && (setsid runsvdir /var/service </dev/null >/dev/null 2>&1 &)"
        )
        yield box
    finally:
        box.remove()


@pytest.fixture(scope="module")
def rc_host(rc_box: Box) -> Iterator[Host]:
    with rc_box.host("docker") as host:
        yield host


def test_openrc_service(rc_box: Box, rc_host: Host) -> None:
    assert rc_host.get_fact(S.InitSystem) == "openrc"

    def deploy() -> None:
        server.service(service="pyisysd", running=True, enabled=True)

    dry = run(rc_host, deploy, dry=True)
    assert dry[0].changed and "started" not in rc_box.sh("rc-status default")
    first = run(rc_host, deploy)
    assert [c.command for c in first[0].commands] == [
        "rc-service pyisysd start && rc-update add pyisysd default"
    ]
    assert rc_host.get_fact(OpenrcStatus) == {"pyisysd": True}
    assert rc_host.get_fact(OpenrcEnabled)["pyisysd"] is True
    assert not run(rc_host, deploy)[0].changed
    restart = run(rc_host, lambda: openrc.service(service="pyisysd", restarted=True))
    assert [c.command for c in restart[0].commands] == ["rc-service pyisysd restart"]
    stop = run(rc_host, lambda: openrc.service(service="pyisysd", running=False, enabled=False))
    assert stop[0].changed
    assert "stopped" in rc_box.sh("rc-service pyisysd status || true")
    assert rc_host.get_fact(OpenrcEnabled).get("pyisysd") is False


def test_runit_service(rc_box: Box, rc_host: Host) -> None:
    def deploy() -> None:
        runit.service(service="pyisysr", running=True)

    assert rc_host.get_fact(RunitManaged) == set()
    first = run(rc_host, deploy)
    assert first[0].changed
    assert rc_host.get_fact(RunitManaged) == {"pyisysr"}
    assert rc_host.get_fact(RunitStatus) == {"pyisysr": True}
    assert rc_box.sh("readlink /var/service/pyisysr").strip() == "/etc/sv/pyisysr"
    assert not rc_box.ok("test -e /etc/sv/pyisysr/down")  # started automatically again
    second = run(rc_host, deploy)
    assert not second[0].changed, second[0].commands
    stopped = run(rc_host, lambda: runit.service(service="pyisysr", running=False, enabled=False))
    assert stopped[0].changed
    assert rc_host.get_fact(RunitStatus, service="pyisysr") == {"pyisysr": False}
    assert rc_box.ok("test -e /etc/sv/pyisysr/down")
    unmanaged = run(rc_host, lambda: runit.manage(service="pyisysr", managed=False))
    assert unmanaged[0].changed and not rc_box.ok("test -L /var/service/pyisysr")


@pytest.fixture(scope="module")
def busybox_host() -> Iterator[Host]:
    box = start_box(RC_IMAGE, flags=("-e", "PATH=/bb"), tag="busybox")
    try:
        box.sh("mkdir -p /var/spool/cron/crontabs && echo 'pyisys:x:4444:' >> /etc/group")
        with box.host("docker") as host:
            yield host
    finally:
        box.remove()


def test_busybox_facts(busybox_host: Host) -> None:
    """Facts on a BusyBox userland give real values (not defaults)."""
    host = busybox_host
    assert host.get_fact(S.Which, command="ls") is not None
    users = host.get_fact(S.Users)
    assert users["root"]["home"] == "/root" and users["root"]["group"] == "root"
    assert "pyisys" in host.get_fact(S.Groups)
    processes = host.get_fact(S.Processes)
    assert processes[1]["command"] == "sleep" and processes[1]["args"] == "sleep infinity"
    assert host.get_fact(S.Processes, pid=1)[1]["user"] == "root"
    assert host.get_fact(S.Mounts)["/"]["type"] == "overlay"
    assert host.get_fact(S.Sysctl, keys=["kernel.ostype"]) == {"kernel.ostype": "Linux"}
    assert host.get_fact(S.Uptime) > 0 and set(host.get_fact(S.LoadAverage)) == {"1", "5", "15"}
    assert host.get_fact(S.Date).tzinfo is not None
    assert host.get_fact(S.Home, user="root") == "/root"
    assert host.get_fact(S.Home, user="nobody-pyi") is None
    assert host.get_fact(S.Timezone)
    assert host.get_fact(hardware.Cpus) == os.cpu_count()
    assert host.get_fact(hardware.Memory) > 0
    assert "/" in {d["mount"] for d in host.get_fact(hardware.BlockDevices).values()}
    assert host.get_fact(hardware.Ipv4Addrs)["lo"] == ["127.0.0.1"]


def test_busybox_operations(busybox_host: Host) -> None:
    host = busybox_host

    def deploy() -> None:
        crontab.crontab(command="echo busy", hour=3, minute=0)

    assert run(host, deploy)[0].changed
    assert not run(host, deploy)[0].changed
    assert host.get_fact(Crontab)["echo busy"]["hour"] == 3
    missing = run(host, lambda: server.user(user="pyisysb"), expect_success=False)
    assert missing[0].error is not None
    assert "useradd is not installed on the host" in missing[0].error
