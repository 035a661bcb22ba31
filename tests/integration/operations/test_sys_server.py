"""server.* operations, sysvinit, crontab and iptables on a plain Debian container (no
systemd running: init.d scripts, `service`, cron, NET_ADMIN for iptables, SYS_ADMIN
for tmpfs mounts and the host name).

Each case runs its deploy dry (the target's observable state must not move), for real
(every operation changes something), and again (nothing changes, nothing runs). Bad
input fails with one line and leaves the target as it was.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.crontab import Crontab
from pyinfra.facts.server import InitSystem, Mounts, Users
from pyinfra.facts.sysvinit import InitdStatus
from pyinfra.operations import crontab, iptables, server, sysvinit
from tests.helpers.deploykit import run
from tests.helpers.syskit import Box, plain_box


@pytest.fixture(scope="module")
def box() -> Iterator[Box]:
    with plain_box() as box:
        box.sh("mkdir -p /mnt/pyi-tmp")
        yield box


@pytest.fixture(scope="module")
def host(box: Box) -> Iterator[Host]:
    with box.host("docker") as host:
        yield host


@dataclass
class Case:
    id: str
    deploy: Callable[[], object]
    observe: str  # shell script printing the state the deploy changes
    check: Callable[[str], object]
    prepare: str = ""


def _lines(*items: str) -> str:
    return "\n".join(items)


CASES = [
    Case(
        "service-sysvinit",
        lambda: (
            server.service(service="cron", running=True, enabled=True),
            sysvinit.enable(service="pyi-sys-svc", start_levels=(3, 5), stop_levels=(0,)),
        ),
        "/etc/init.d/cron status >/dev/null; echo cron=$?; ls /etc/rc*.d | grep -c cron; "
        "ls -l /etc/rc3.d/S20pyi-sys-svc /etc/rc5.d/S20pyi-sys-svc /etc/rc0.d/K80pyi-sys-svc "
        "2>&1 | sed 's/.* -> //'",
        lambda out: (
            _assert("cron=0" in out, out),
            _assert(out.count("/etc/init.d/pyi-sys-svc") == 3, out),
        ),
        prepare="/etc/init.d/cron stop >/dev/null 2>&1; update-rc.d -f cron remove >/dev/null",
    ),
    Case(
        "hostname-sysctl-timezone",
        lambda: (
            server.hostname(hostname="pyi-sys-plain"),
            server.sysctl(key="net.ipv4.ip_forward", value="0", persist=True),
            server.sysctl(key="net.ipv4.ip_local_port_range", value=[40000, 50000]),
            server.timezone(timezone="America/New_York"),
        ),
        "uname -n; cat /etc/hostname; sysctl -n net.ipv4.ip_forward net.ipv4.ip_local_port_range; "
        "grep ^net.ipv4.ip_forward /etc/sysctl.conf; readlink /etc/localtime; cat /etc/timezone",
        lambda out: _assert(
            out.split("\n")
            == [
                "pyi-sys-plain",
                "pyi-sys-plain",
                "0",
                "40000\t50000",
                "net.ipv4.ip_forward = 0",
                "/usr/share/zoneinfo/America/New_York",
                "America/New_York",
                "",
            ],
            out,
        ),
        prepare="sysctl -qw net.ipv4.ip_forward=1; "
        "echo 'net.ipv4.ip_forward=1' >> /etc/sysctl.conf",
    ),
    Case(
        "locale-limits-hosts",
        lambda: (
            server.locale(locale="en_GB.UTF-8"),
            server.security_limit(domain="*", limit_type="soft", item="nofile", value=8192),
            server.security_limit(domain="@adm", limit_type="hard", item="nproc", value="200"),
            server.etc_hosts(ip="10.7.7.7", hostnames=["pyi-a", "pyi-b"]),
            server.etc_hosts(ip="10.7.7.8", hostnames="pyi-old", present=False),
        ),
        "locale -a | grep -c en_GB; grep -v -e '^#' -e '^$' /etc/security/limits.conf; "
        "grep '^10.7.7' /etc/hosts",
        lambda out: _assert(
            out.split("\n")
            == [
                "1",
                "*\tsoft\tnofile\t8192",
                "@adm\thard\tnproc\t200",
                "10.7.7.7 pyi-a pyi-b",
                "10.7.7.8 pyi-keep",
                "",
            ],
            out,
        ),
        prepare="printf '* soft nofile 1024\\n' >> /etc/security/limits.conf; "
        "printf '10.7.7.7 pyi-a\\n10.7.7.8 pyi-old pyi-keep\\n' >> /etc/hosts",
    ),
    Case(
        "mount-tmpfs",
        lambda: server.mount(
            path="/mnt/pyi-tmp", device="tmpfs", fs_type="tmpfs", options=["nosuid", "size=1024k"]
        ),
        "awk '$5 == \"/mnt/pyi-tmp\" {print $5, $(NF-2), $(NF-1)}' /proc/self/mountinfo",
        lambda out: _assert(out.strip() == "/mnt/pyi-tmp tmpfs tmpfs", out),
    ),
    Case(
        "crontab",
        lambda: (
            crontab.crontab(command="echo one", minute=[0, 30], hour=4),
            crontab.crontab(command="echo two v2", cron_name="two", special_time="@daily"),
            crontab.crontab(command="echo gone", present=False),
            server.crontab(command="echo user", user="pyisysc", day_of_week="mon-fri"),
        ),
        "crontab -l; echo ---; crontab -l -u pyisysc",
        lambda out: _assert(
            out
            == _lines(
                "# keep me",
                "MAILTO=root",
                "# pyinfra-name=two",
                "@daily echo two v2",
                "",
                "0,30 4 * * * echo one",
                "---",
                "* * * * mon-fri echo user",
                "",
            ),
            out,
        ),
        prepare="id pyisysc >/dev/null 2>&1 || useradd pyisysc; "
        "printf '# keep me\\nMAILTO=root\\n# pyinfra-name=two\\n@hourly echo two\\n"
        "15 * * * * echo gone\\n' | crontab -",
    ),
    Case(
        "iptables",
        lambda: (
            iptables.chain(chain="PYI-SYS"),
            iptables.chain(chain="FORWARD", policy="DROP"),
            iptables.rule(chain="PYI-SYS", jump="ACCEPT", source="10.1.0.0/16", protocol="udp"),
            iptables.rule(chain="INPUT", jump="PYI-SYS", in_interface="lo", append=False),
            iptables.rule(chain="INPUT", jump="LOG", log_prefix="pyi: ", not_source="10.9.9.9"),
            iptables.rule(
                chain="PREROUTING",
                jump="DNAT",
                table="nat",
                protocol="tcp",
                destination_port=8080,
                to_destination="10.0.0.2:80",
            ),  # fmt: skip
            iptables.rule(chain="INPUT", jump="DROP", source="10.3.3.3", present=False),
            iptables.rule(chain="INPUT", jump="DROP", source="::1", version=6),
        ),
        "iptables-save | grep -v '^#' | grep -v '^:[A-Z]* ACCEPT'; ip6tables-save -t filter | "
        "grep '^-A'",
        lambda out: _assert(
            all(
                line in out.split("\n")
                for line in (
                    ":FORWARD DROP [0:0]",
                    ":PYI-SYS - [0:0]",
                    "-A INPUT -i lo -j PYI-SYS",
                    '-A INPUT ! -s 10.9.9.9/32 -j LOG --log-prefix "pyi: "',
                    "-A PYI-SYS -s 10.1.0.0/16 -p udp -j ACCEPT",
                    "-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80",
                    "-A INPUT -s ::1/128 -j DROP",
                )
            )
            and "10.3.3.3" not in out,
            out,
        ),
        prepare="iptables -A INPUT -s 10.3.3.3 -j DROP",
    ),
    Case(
        "users-groups",
        lambda: (
            server.group(group="pyisysg", gid=4242),
            server.group(group="pyisyss", system=True),
            server.user(
                user="pyisysu",
                shell="/bin/sh",
                groups=["pyisysg", "daemon"],
                comment="Sys User",
                uid=4243,
                password="$6$salt$hash",
                create_home=True,
                public_keys=["ssh-ed25519 AAAAC3Nzpyi one"],
            ),  # fmt: skip
            server.user(user="pyisysv", home="/srv/pyisysv", groups=["pyisysg"], append=True),
            server.user(user="pyisysx", present=False),
            server.user_authorized_keys(
                user="pyisysv", public_keys="ssh-ed25519 AAAAC3Nzpyi two", delete_keys=True
            ),
        ),
        "getent group pyisysg pyisyss | cut -d: -f1,3,4; getent passwd pyisysu pyisysv pyisysx | "
        "cut -d: -f1,3,5,6,7; grep '^pyisysu:' /etc/shadow | cut -d: -f2; "
        "stat -c '%U %a %n' /home/pyisysu/.ssh /home/pyisysu/.ssh/authorized_keys /srv/pyisysv "
        "/srv/pyisysv/.ssh/authorized_keys; cat /home/pyisysu/.ssh/authorized_keys "
        "/srv/pyisysv/.ssh/authorized_keys; ls /home/pyisysu/.bashrc",
        lambda out: _assert(
            out.split("\n")[0] == "pyisysg:4242:pyisysu,pyisysv"
            and out.split("\n")[1].startswith("pyisyss:")
            and "pyisysu:4243:Sys User:/home/pyisysu:/bin/sh" in out
            and "pyisysv:" in out
            and "pyisysx" not in out
            and "$6$salt$hash" in out
            and "pyisysu 700 /home/pyisysu/.ssh" in out
            and "pyisysu 600 /home/pyisysu/.ssh/authorized_keys" in out
            and "pyisysv 755 /srv/pyisysv" in out
            and "ssh-ed25519 AAAAC3Nzpyi one\nssh-ed25519 AAAAC3Nzpyi two\n" in out
            and "/home/pyisysu/.bashrc" in out,
            out,
        ),
        prepare="useradd pyisysx; useradd -M -d /srv/pyisysv pyisysv; "
        "mkdir -p /srv/pyisysv/.ssh && echo 'ssh-rsa AAAAold' > /srv/pyisysv/.ssh/authorized_keys",
    ),
]


def _assert(condition: bool, output: str) -> bool:
    assert condition, output
    return True


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(box: Box, host: Host, case: Case) -> None:
    if case.prepare:
        box.sh(case.prepare)
    before = box.sh(case.observe, check=False)
    dry = run(host, case.deploy, dry=True)
    assert box.sh(case.observe, check=False) == before
    assert any(m.changed for m in dry)
    first = run(host, case.deploy)
    assert all(m.changed for m in first), _report(first)
    case.check(box.sh(case.observe, check=False))
    second = run(host, case.deploy)
    assert not any(m.changed for m in second), _report(second)
    assert all(not m.commands for m in second)


def _report(results: list[OperationMeta]) -> str:
    return "; ".join(f"{m.name}: changed={m.changed} noops={m.noops}" for m in results)


def test_facts_on_the_target(box: Box, host: Host) -> None:
    """Facts read through our code see the target's state (made here by hand)."""
    box.sh(
        "/etc/init.d/cron start >/dev/null; getent group pyisysf >/dev/null || groupadd pyisysf; "
        "id pyisysf >/dev/null 2>&1 || useradd -c 'Fact User' -G pyisysf,daemon -p '$6$f$g' "
        "-g daemon pyisysf; id pyisysn >/dev/null 2>&1 || useradd pyisysn; "
        "mkdir -p /mnt/pyi-facts && (mountpoint -q /mnt/pyi-facts || "
        "mount -t tmpfs -o size=1m tmpfs /mnt/pyi-facts); "
        "printf '# pyinfra-name=two\\n@daily echo two\\n' | crontab -u pyisysn -"
    )
    host.invalidate_facts()  # changed behind pyinfra's back
    assert host.get_fact(InitSystem) == "sysvinit"
    assert host.get_fact(InitdStatus)["cron"] is True
    users = host.get_fact(Users)
    assert users["pyisysf"]["comment"] == "Fact User"
    assert users["pyisysf"]["group"] == "daemon" and users["pyisysf"]["groups"] == ["pyisysf"]
    assert users["pyisysn"]["comment"] is None and users["pyisysn"]["groups"] == []
    assert users["pyisysf"]["password"] == "$6$f$g"
    assert {"lastlog", "login_time"} <= set(users["root"])
    mounts = host.get_fact(Mounts)
    assert mounts["/mnt/pyi-facts"]["type"] == "tmpfs"
    assert "size=1024k" in mounts["/mnt/pyi-facts"]["options"]
    table = host.get_fact(Crontab, user="pyisysn")
    assert table["two"]["special_time"] == "@daily"
    box.sh("umount /mnt/pyi-facts")


def test_remount_and_unmount(box: Box, host: Host) -> None:
    box.sh("mountpoint -q /mnt/pyi-tmp || mount -t tmpfs -o size=1m tmpfs /mnt/pyi-tmp")
    remount = run(host, lambda: server.mount(path="/mnt/pyi-tmp", options=["ro"]))
    assert remount[0].commands[0].command == "mount -o remount,ro /mnt/pyi-tmp"
    assert " ro," in box.sh("grep ' /mnt/pyi-tmp ' /proc/self/mountinfo")
    off = run(host, lambda: server.mount(path="/mnt/pyi-tmp", mounted=False))
    assert off[0].changed and not box.ok("mountpoint -q /mnt/pyi-tmp")
    assert not run(host, lambda: server.mount(path="/mnt/pyi-tmp", mounted=False))[0].changed


def test_kill_wait_script_template(box: Box, host: Host, tmp_path: Path) -> None:
    pid = box.sh("sleep 1000 >/dev/null 2>&1 & echo $!").strip()
    run(host, lambda: server.kill(pid=int(pid), signal="KILL"))
    assert not box.ok(f"kill -0 {pid} 2>/dev/null && ! grep -q Z /proc/{pid}/stat")

    box.sh("mkdir -p /run/sshd && /usr/sbin/sshd -p 2299")
    waited = run(host, lambda: server.wait(port=2299, _timeout=10))
    assert waited[0].success

    template = tmp_path / "hello.sh.j2"
    template.write_text('#!/bin/sh\necho "{{ greeting }} $1" > /tmp/pyi-sys-greeting\n')
    run(host, lambda: server.script_template(src=str(template), args=("world",), greeting="hi"))
    assert box.sh("cat /tmp/pyi-sys-greeting") == "hi world\n"
    assert box.sh("ls /tmp | grep -c '^pyinfra-' || true").strip() == "0"  # removed after


BAD = [
    (
        "unknown sysctl key",
        lambda: server.sysctl(key="net.ipv4.pyi_nope", value=1),
        "sysctl: cannot stat /proc/sys/net/ipv4/pyi_nope: No such file or directory",
    ),
    (
        "cron field out of range",
        lambda: crontab.crontab(command="echo bad", minute=61),
        "crontab.crontab: argument minute is out of range: '61' (allowed: 0-59, *)",
    ),
    (
        "iptables rule the kernel refuses",
        lambda: iptables.rule(chain="INPUT", jump="PYI-NOPE"),
        "Chain 'PYI-NOPE' does not exist",
    ),
    (
        "mount of a missing device",
        lambda: server.mount(path="/mnt/pyi-tmp", device="/dev/pyi-nope", fs_type="ext4"),
        "/dev/pyi-nope",
    ),
    (
        "unknown time zone",
        lambda: server.timezone(timezone="Mars/Olympus"),
        "unknown time zone Mars/Olympus: no /usr/share/zoneinfo/Mars/Olympus",
    ),
    (
        "unknown init script",
        lambda: server.service(service="pyi-nope"),
        "/etc/init.d/pyi-nope: not found",
    ),
]


@pytest.mark.parametrize("deploy, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input(box: Box, host: Host, deploy: Callable[[], None], message: str) -> None:
    state = "crontab -l; iptables-save | grep -v '^#'; sysctl -a 2>/dev/null | grep ipv4 | sort; "
    state += "readlink /etc/localtime; grep ' /mnt/' /proc/self/mountinfo"
    before = box.sh(state, check=False)
    results = run(host, deploy, expect_success=False)
    error = results[0].error or ""
    assert results[0].success is False and message in error, error
    assert "\n" not in error
    after = box.sh(state, check=False)
    assert shlex.split(after) == shlex.split(before)
