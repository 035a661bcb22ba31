"""systemd as PID 1 in a container, driven over @docker and @ssh: the acceptance deploy
(unit upload, daemon-reload, enable + start, hostname, sysctl, timezone, cron,
iptables) run dry, for real, then again without changes; unit state transitions; an
unknown unit; a user unit; server.reboot with reconnection, and a reboot that never
comes back."""

from __future__ import annotations

import io
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pyinfra.api.operation import OperationMeta
from pyinfra.facts.server import Hostname, InitSystem
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus
from pyinfra.operations import files, iptables, server, systemd
from tests.helpers.deploykit import run
from tests.helpers.syskit import Box, start_box, systemd_box, wait_until

UNIT = """[Unit]
Description=pyi-sys test service
[Service]
ExecStart=/bin/sleep infinity
ExecReload=/bin/kill -HUP $MAINPID
[Install]
WantedBy=multi-user.target
"""


@pytest.fixture(scope="module")
def box() -> Iterator[Box]:
    with systemd_box(ssh=True, restart="always") as box:
        yield box


@dataclass
class Values:
    unit: str
    hostname: str
    forward: int
    timezone: str
    minute: int
    port: int


def acceptance_deploy(v: Values) -> None:
    upload = files.put(src=io.BytesIO(UNIT.encode()), dest=f"/etc/systemd/system/{v.unit}")
    systemd.daemon_reload(_if=upload)
    systemd.service(service=v.unit, running=True, enabled=True)
    server.hostname(hostname=v.hostname)
    server.sysctl(
        key="net.ipv4.ip_forward",
        value=v.forward,
        persist=True,
        persist_file="/etc/sysctl.d/99-pyi-sys.conf",
    )
    server.timezone(timezone=v.timezone)
    server.crontab(
        command="/usr/bin/true pyi-sys", minute=v.minute, hour="*/2", cron_name="pyi-sys-job"
    )
    iptables.rule(chain="INPUT", jump="DROP", protocol="tcp", destination_port=v.port)


def observable(box: Box, v: Values) -> str:
    unit = shlex.quote(v.unit)
    return box.sh(
        f"systemctl is-active {unit} || true; systemctl is-enabled {unit} 2>&1 || true; "
        "uname -n; cat /etc/hostname; sysctl -n net.ipv4.ip_forward; "
        "cat /etc/sysctl.d/99-pyi-sys.conf 2>&1 || true; readlink /etc/localtime; "
        "crontab -l 2>&1 || true; iptables-save -t filter | grep -v '^#'; "
        f"ls /etc/systemd/system/{unit} 2>&1 || true"
    )


@pytest.mark.parametrize(
    "via, values",
    [
        ("docker", Values("pyi-sys-a.service", "pyi-sys-docker", 0, "Europe/Paris", 5, 2201)),
        ("ssh", Values("pyi-sys-b.service", "pyi-sys-ssh", 1, "Asia/Tokyo", 7, 2202)),
    ],
)
def test_acceptance_deploy(box: Box, via: str, values: Values) -> None:
    box.sh(f"sysctl -qw net.ipv4.ip_forward={1 - values.forward}")
    with box.host(via) as host:
        assert host.get_fact(InitSystem) == "systemd"
        before = observable(box, values)
        dry = run(host, lambda: acceptance_deploy(values), dry=True)
        assert all(m.changed for m in dry), [m.name for m in dry if not m.changed]
        assert observable(box, values) == before  # --dry changed nothing

        first = run(host, lambda: acceptance_deploy(values))
        assert [m.changed for m in first] == [True] * len(first), _report(first)
        after = observable(box, values)
        assert after.splitlines()[:4] == ["active", "enabled", values.hostname, values.hostname]
        assert f"net.ipv4.ip_forward = {values.forward}" in after
        assert after.count(f"{values.timezone}") == 1
        assert f"# pyinfra-name=pyi-sys-job\n{values.minute} */2 * * * /usr/bin/true" in after
        assert f"--dport {values.port} -j DROP" in after

        second = run(host, lambda: acceptance_deploy(values))
        assert [m.changed for m in second] == [False] * len(second), _report(second)
        assert all(not m.commands for m in second)
        assert observable(box, values) == after

        status = host.get_fact(SystemdStatus, services=[values.unit])
        enabled = host.get_fact(SystemdEnabled, services=values.unit)
        assert status == {values.unit: True} and enabled == {values.unit: True}


def _report(results: list[OperationMeta]) -> str:
    return "; ".join(f"{m.name}: changed={m.changed} {m.noops}" for m in results)


def test_unit_transitions_and_unknown_unit(box: Box) -> None:
    unit = "pyi-sys-t.service"
    path = f"/etc/systemd/system/{unit}"
    box.sh(f"printf '%s' {shlex.quote(UNIT)} > {path} && systemctl daemon-reload")

    def pid() -> str:
        return box.sh(f"systemctl show -p MainPID --value {unit}").strip()

    with box.host("docker") as host:
        start = run(host, lambda: systemd.service(service="pyi-sys-t", enabled=True))
        assert start[0].changed and box.sh(f"systemctl is-active {unit}").strip() == "active"
        first_pid = pid()
        run(host, lambda: systemd.service(service=unit, restarted=True))
        assert pid() != first_pid  # restarted: a new main process
        reload = run(host, lambda: systemd.service(service=unit, reloaded=True))
        assert [c.command for c in reload[0].commands] == [f"systemctl reload {unit}"]
        stop = run(host, lambda: systemd.service(service=unit, running=False, enabled=False))
        assert stop[0].changed
        assert box.sh(f"systemctl is-active {unit} || true").strip() == "inactive"
        assert box.sh(f"systemctl is-enabled {unit} || true").strip() == "disabled"
        again = run(host, lambda: systemd.service(service=unit, running=False, enabled=False))
        assert not again[0].changed and again[0].noops

        # The file of a running unit changed on disk: daemon_reload=True reloads once,
        # then not again. (An inactive unit is read afresh when used: no reload needed.)
        run(host, lambda: systemd.service(service=unit))
        box.sh(f"sleep 1; sed -i 's/infinity/1000/' /etc/systemd/system/{unit}")
        fresh = run(host, lambda: systemd.service(service=unit, daemon_reload=True))
        assert [c.command for c in fresh[0].commands] == ["systemctl daemon-reload"]
        stale = run(host, lambda: systemd.service(service=unit, daemon_reload=True))
        assert not stale[0].changed
        assert "ExecStart={ path=/bin/sleep ; argv[]=/bin/sleep 1000" in box.sh(
            f"systemctl show -p ExecStart {unit}"
        )

        bad = run(host, lambda: systemd.service(service="pyi-nope"), expect_success=False)
        assert bad[0].success is False
        assert bad[0].error is not None and "Unit pyi-nope.service not found" in bad[0].error
        assert "\n" not in bad[0].error


def test_user_unit(box: Box) -> None:
    """A unit of a user's own manager (lingering user, ``user_name``)."""
    box.sh(
        "id pyisysu >/dev/null 2>&1 || useradd -m pyisysu; loginctl enable-linger pyisysu; "
        "mkdir -p /home/pyisysu/.config/systemd/user"
    )
    box.sh(
        f"printf '%s' {shlex.quote(UNIT)} > /home/pyisysu/.config/systemd/user/pyi-user.service "
        "&& chown -R pyisysu: /home/pyisysu/.config"
    )
    wait_until(
        lambda: box.ok("systemctl is-active user@$(id -u pyisysu).service"), what="user manager"
    )
    with box.host("docker") as host:
        results = run(
            host,
            lambda: systemd.service(
                service="pyi-user", user_mode=True, user_name="pyisysu", daemon_reload=True
            ),
        )
        assert results[0].changed
        status = host.get_fact(
            SystemdStatus, user_mode=True, user_name="pyisysu", services=["pyi-user.service"]
        )
        assert status == {"pyi-user.service": True}
        again = run(
            host, lambda: systemd.service(service="pyi-user", user_mode=True, user_name="pyisysu")
        )
        assert not again[0].changed


@pytest.mark.parametrize("via", ["docker", "ssh"])
def test_reboot_reconnects(box: Box, via: str) -> None:
    before = box.sh("sed 's/.*) //' /proc/1/stat | cut -d' ' -f20").strip()
    with box.host(via) as host:
        results = run(host, lambda: server.reboot(delay=1, interval=0.5, reboot_timeout=60))
        assert results[0].success and results[0].changed
        after = box.sh("sed 's/.*) //' /proc/1/stat | cut -d' ' -f20").strip()
        assert after != before  # PID 1 is a new process: the container booted again
        # The same host object keeps working after the reconnection.
        assert host.get_fact(Hostname)
    box.wait_systemd()


def test_reboot_that_never_comes_back() -> None:
    """sshd container whose `reboot` ends PID 1 (no restart policy): the operation fails
    after reboot_timeout, naming the host and the wait."""
    box = start_box("pyinfra-test-sshd:bookworm", ssh=True, tag="noreturn")
    try:
        wait_until(lambda: box.ok("test -s /etc/ssh/ssh_host_ed25519_key.pub"), what="host keys")
        box.sh(
            "printf '#!/bin/sh\\nkill 1\\n' > /usr/local/sbin/reboot && "
            "chmod 755 /usr/local/sbin/reboot"
        )
        box.enable_ssh()
        with box.host("ssh") as host:
            results = run(
                host,
                lambda: server.reboot(delay=0, interval=0.5, reboot_timeout=3),
                expect_success=False,
            )
        error = results[0].error or ""
        assert results[0].success is False
        assert "127.0.0.1 did not come back within reboot_timeout=3 s" in error, error
        assert "\n" not in error
    finally:
        box.remove()
