"""Managers that cannot run here (launchd, BSD rc.d, FreeBSD, upstart, ZFS, OpenVZ, LXD,
SELinux, Puppet): the commands their operations send, through the ``@fake`` connector,
and fact parsers on the tools' output.

Where the output could not be produced on this machine it is written after the format
documented upstream; the source is named next to each sample.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pyinfra.api import Config, Inventory, State
from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta
from pyinfra.connectors.fake import FakeConnector
from pyinfra.facts import efibootmgr, hardware, iptables, launchd, lxd, selinux, upstart, vzctl, zfs
from pyinfra.facts import server as S
from pyinfra.facts.bsdinit import RcdStatus
from pyinfra.facts.crontab import parse_crontab
from pyinfra.operations import bsdinit, puppet, server
from pyinfra.operations import launchd as launchd_ops
from pyinfra.operations import lxd as lxd_ops
from pyinfra.operations import selinux as selinux_ops
from pyinfra.operations import upstart as upstart_ops
from pyinfra.operations import vzctl as vz_ops
from pyinfra.operations import zfs as zfs_ops
from pyinfra.operations.freebsd import service as fbsd_service
from pyinfra.operations.freebsd import sysrc as fbsd_sysrc
from tests.helpers.deploykit import run


@pytest.fixture
def fake() -> Iterator[Host]:
    FakeConnector.reset()
    inventory = Inventory((["@fake/sys"], {}))
    State(inventory, Config())
    host = next(iter(inventory))
    host.connect(raise_exceptions=True)
    try:
        yield host
    finally:
        host.disconnect()
        FakeConnector.reset()


def commands(results: list[OperationMeta]) -> list[str]:
    return [c.command for m in results for c in m.commands]


def answer(pattern: str, stdout: str = "", exit_code: int = 0, stderr: str = "") -> None:
    FakeConnector.script(re.compile(pattern), stdout=stdout, exit_code=exit_code, stderr=stderr)


def fails(host: Host, deploy: Callable[[], Any]) -> str:
    results = run(host, deploy, expect_success=False)
    assert results[0].success is False
    error = results[0].error or ""
    assert "\n" not in error
    return error


# launchd -----------------------------------------------------------------------------

# `launchctl list` (launchctl(1), macOS): PID (or -), last exit status, label.
LAUNCHCTL_LIST = (
    "PID\tStatus\tLabel\n-\t0\tcom.example.idle\n412\t0\tcom.openssh.sshd\n"
    "-\t78\tcom.example.failed\n"
)


def test_launchd(fake: Host) -> None:
    assert launchd.LaunchdStatus().process(LAUNCHCTL_LIST.splitlines()) == {
        "com.example.idle": False,
        "com.openssh.sshd": True,
        "com.example.failed": False,
    }
    answer(r"launchctl list", LAUNCHCTL_LIST)
    started = run(fake, lambda: launchd_ops.service(service="com.example.idle"))
    assert commands(started) == ["launchctl start com.example.idle"]
    restarted = run(fake, lambda: launchd_ops.service(service="com.openssh.sshd", restarted=True))
    assert commands(restarted) == [
        "launchctl stop com.openssh.sshd",
        "launchctl start com.openssh.sshd",
    ]


# BSD rc.d and FreeBSD ------------------------------------------------------------------


def test_bsdinit(fake: Host) -> None:
    # RcdStatus prints NAME=STATUS for each script (status codes as rc.subr(8) returns them).
    assert RcdStatus().process(["sshd=0", "ntpd=1", "weird=127"]) == {
        "sshd": True,
        "ntpd": False,
        "weird": None,
    }
    answer(r"/usr/local/etc/rc.d -type f", "sshd=0\nnginx=1\n")
    results = run(fake, lambda: bsdinit.service(service="nginx", reloaded=True))
    assert commands(results) == [
        "if [ -e /etc/rc.d/nginx ]; then /etc/rc.d/nginx start ; "
        "else /usr/local/etc/rc.d/nginx start ; fi"
    ]  # not running before: started, not reloaded
    assert not run(fake, lambda: bsdinit.service(service="sshd"))[0].changed
    assert fails(fake, lambda: bsdinit.service(service="a b")).endswith(
        "argument service is not a valid service name: 'a b'"
    )


def test_freebsd_service_and_sysrc(fake: Host) -> None:
    answer(r"service -j web -l", "nginx\nsshd\n")
    answer(r"service -l", "")
    answer(r"status >/dev/null 2>&1 && echo running", "")
    started = run(fake, lambda: fbsd_service.service("nginx", jail="web", environment=["A=1"]))
    assert commands(started) == ["service -j web -E A=1 nginx start"]
    missing = run(fake, lambda: fbsd_service.service("nginx"))
    assert not missing[0].changed and missing[0].noops == ["Cannot find rc(8) script 'nginx'"]
    custom = run(
        fake,
        lambda: fbsd_service.service("nginx", jail="web", srvstate="custom", command="configtest"),
    )
    assert commands(custom) == ["service -j web nginx configtest"]
    assert "srvstate must be one of" in fails(
        fake, lambda: fbsd_service.service("nginx", jail="web", srvstate="bogus")
    )

    answer(r"sysrc -in -- sshd_enable", "YES\n")
    answer(r"sysrc -in -- nginx_enable", "")
    assert not run(fake, lambda: fbsd_sysrc.sysrc("sshd_enable", "YES"))[0].changed
    assert commands(run(fake, lambda: fbsd_sysrc.sysrc("nginx_enable", "YES"))) == [
        "sysrc -i -- nginx_enable=YES"
    ]
    assert commands(run(fake, lambda: fbsd_sysrc.sysrc("sshd_enable", "NO", overwrite=True))) == [
        "sysrc -i -- sshd_enable=NO"
    ]
    assert commands(run(fake, lambda: fbsd_sysrc.sysrc("sshd_enable", "", command="del"))) == [
        "sysrc -i -x -- sshd_enable="
    ]


# upstart -----------------------------------------------------------------------------

# `initctl list` (upstart cookbook, "initctl list"): JOB GOAL/STATE[, process PID]
INITCTL_LIST = (
    "rsyslog start/running, process 611\n"
    "tty1 start/running, process 1017\n"
    "mountall-net stop/waiting\n"
    "network-interface (lo) start/running\n"
)


def test_upstart(fake: Host) -> None:
    assert upstart.UpstartStatus().process(INITCTL_LIST.splitlines()) == {
        "rsyslog": True,
        "tty1": True,  # pyinfra 3.10 drops job names with digits
        "mountall-net": False,
    }
    answer(r"initctl list", INITCTL_LIST)
    FakeConnector.add_directory("@fake/sys", "/etc/init")
    results = run(fake, lambda: upstart_ops.service(service="mountall-net", enabled=False))
    sent = commands(results)
    assert sent[0] == "initctl start mountall-net"
    assert any("/etc/init/mountall-net.override" in c for c in sent[1:])


# ZFS ---------------------------------------------------------------------------------

# `zfs get -H all` (zfsprops(7)/zfs-get(8)): NAME TAB PROPERTY TAB VALUE TAB SOURCE
ZFS_GET = "\n".join(
    [
        "tank\ttype\tfilesystem\t-",
        "tank\tcompression\tlz4\tlocal",
        "tank/home\ttype\tfilesystem\t-",
        "tank/home\tmountpoint\t/home\tlocal",
        "tank/home@monday\ttype\tsnapshot\t-",
        "tank/vol\ttype\tvolume\t-",
        "tank/vol\tvolsize\t1G\tlocal",
    ]
)


def test_zfs(fake: Host) -> None:
    datasets = zfs.ZfsDatasets().process(ZFS_GET.splitlines())
    assert datasets["tank/home"] == {"type": "filesystem", "mountpoint": "/home"}
    answer(r"zfs get -H all", ZFS_GET)
    assert set(fake.get_fact(zfs.ZfsSnapshots)) == {"tank/home@monday"}
    assert set(fake.get_fact(zfs.ZfsVolumes)) == {"tank/vol"}
    assert set(fake.get_fact(zfs.Filesystems)) == {"tank", "tank/home"}

    created = run(fake, lambda: zfs_ops.filesystem("tank/srv", recursive=True, mountpoint="/srv"))
    assert commands(created) == ["zfs create -o mountpoint=/srv -p tank/srv"]
    changed = run(fake, lambda: zfs_ops.dataset("tank/home", mountpoint="/export/home"))
    assert commands(changed) == ["zfs set mountpoint=/export/home tank/home"]
    same = run(fake, lambda: zfs_ops.dataset("tank", properties={"compression": "lz4"}))
    assert not same[0].changed
    volume = run(fake, lambda: zfs_ops.volume("tank/vm", "32G", sparse=True))
    assert commands(volume) == ["zfs create -s -V 32G tank/vm"]
    snap = run(fake, lambda: zfs_ops.snapshot("tank/home@tuesday", recursive=True))
    assert commands(snap) == ["zfs snapshot -r tank/home@tuesday"]
    gone = run(fake, lambda: zfs_ops.dataset("tank/home", present=False, recursive=True))
    assert commands(gone) == ["zfs destroy -r tank/home"]
    assert "not a ZFS dataset name" in fails(fake, lambda: zfs_ops.dataset("tank/a b"))


# OpenVZ, LXD, Puppet -----------------------------------------------------------------

# `vzlist -a -j` (vzlist(8), OpenVZ 7): a JSON array of containers.
VZLIST = '[{"ctid": 101, "hostname": "web", "ip": ["10.0.0.5"], "status": "running"}]'
# `lxc list --format json` (LXD REST API "instances" objects, abbreviated).
LXC_LIST = '[{"name": "web", "status": "Running", "type": "container"}]'


def test_vzctl_lxd_puppet(fake: Host) -> None:
    assert vzctl.OpenvzContainers().process([VZLIST]) == {
        101: {"hostname": "web", "ip": ["10.0.0.5"], "status": "running"}
    }
    answer(r"vzlist -a -j", VZLIST)
    assert "CTID 101 already exists" in fails(fake, lambda: vz_ops.create("101"))
    assert commands(run(fake, lambda: vz_ops.create("102", template="debian-12"))) == [
        "vzctl create 102 --ostemplate debian-12"
    ]
    assert commands(
        run(fake, lambda: vz_ops.set("102", hostname="db", nameserver=["1.1.1.1", "9.9.9.9"]))
    ) == ["vzctl set 102 --save --hostname db --nameserver 1.1.1.1 --nameserver 9.9.9.9"]
    assert commands(run(fake, lambda: vz_ops.restart("102", force=True))) == [
        "vzctl stop 102",
        "vzctl start 102 --force",
    ]

    assert lxd.LxdContainers().process([LXC_LIST])[0]["name"] == "web"
    answer(r"lxc list", LXC_LIST)
    assert not run(fake, lambda: lxd_ops.container("web"))[0].changed
    assert commands(run(fake, lambda: lxd_ops.container("web", present=False))) == [
        "lxc stop web",
        "lxc delete web",
    ]
    assert commands(run(fake, lambda: lxd_ops.container("db", image="debian/12"))) == [
        "lxc launch debian/12 db < /dev/null"
    ]

    assert commands(run(fake, lambda: puppet.agent(server="puppet.example", port=8140))) == [
        "puppet agent -t --server=puppet.example --masterport=8140"
    ]


# SELinux -----------------------------------------------------------------------------

# `semanage port -ln` (semanage-port(8)): TYPE PROTOCOL PORTS
SEMANAGE_PORTS = (
    "http_port_t                    tcp      8008, 8009, 80, 81, 443, 488\n"
    "ssh_port_t                     tcp      22\n"
    "unreserved_port_t              tcp      1024-32767, 61001-65535\n"
    "dns_port_t                     udp      53, 853\n"
)
# `semanage fcontext -n -l` (semanage-fcontext(8)): EXPRESSION TYPE CONTEXT
FCONTEXT = (
    "/web(/.*)?                                         all files          "
    "system_u:object_r:httpd_sys_content_t:s0\n"
)


def test_selinux(fake: Host) -> None:
    ports = selinux.SEPorts().process(SEMANAGE_PORTS.splitlines())
    assert ports["tcp"][443] == "http_port_t" and ports["udp"][853] == "dns_port_t"
    assert 2000 not in ports["tcp"]
    assert selinux.FileContextMapping().process(FCONTEXT.splitlines()) == {
        "user": "system_u",
        "role": "object_r",
        "type": "httpd_sys_content_t",
        "level": "s0",
    }
    # getsebool(8): "NAME --> on|off"; stat -c %C: the context
    assert selinux.SEBoolean().process(["httpd_can_network_connect --> off"]) == "off"
    context = selinux.FileContext().process(["system_u:object_r:etc_t:s0"])
    assert context is not None and context["type"] == "etc_t"
    assert selinux.FileContext().process(["?"]) is None

    answer(r"getsebool httpd_can_network_connect", "httpd_can_network_connect --> off\n")
    on = run(
        fake,
        lambda: selinux_ops.boolean(
            "httpd_can_network_connect", selinux_ops.Boolean.ON, persistent=True
        ),
    )
    assert commands(on) == ["setsebool -P httpd_can_network_connect on"]
    answer(r"stat -c %C /srv/www", "system_u:object_r:var_t:s0\n")
    assert commands(
        run(fake, lambda: selinux_ops.file_context("/srv/www", "httpd_sys_content_t"))
    ) == ["chcon -t httpd_sys_content_t /srv/www"]
    answer(r"semanage fcontext -n -l", FCONTEXT)
    assert not run(
        fake, lambda: selinux_ops.file_context_mapping("/web(/.*)?", "httpd_sys_content_t")
    )[0].changed
    answer(r"semanage port -ln", SEMANAGE_PORTS)
    port = run(fake, lambda: selinux_ops.port(selinux_ops.Protocol.TCP, 8080, "http_port_t"))
    assert commands(port) == ["semanage port -a -t http_port_t -p tcp 8080"]
    assert "se_type is required" in fails(fake, lambda: selinux_ops.port("tcp", 8080))


# Parsers of BSD/macOS/BusyBox output -----------------------------------------------

# `mount -p --libxo json` (FreeBSD mount(8) with libxo(3))
FREEBSD_MOUNTS = (
    '{"mount": {"fstab": [{"device": "/dev/ada0p2", "mntpoint": "/", "fstype": "ufs", '
    '"opts": "rw", "dump": 1, "pass": 1}, {"device": "devfs", "mntpoint": "/dev", '
    '"fstype": "devfs", "opts": "rw, multilabel", "dump": 0, "pass": 0}]}}'
)
# `mount -v` (OpenBSD mount(8))
OPENBSD_MOUNTS = (
    "/dev/sd0a (8a2b3c4d5e6f7a8b.a) on / type ffs (rw, local, ctime=Mon Jan  1 10:00:00 2024)"
)
# `kldstat | tail -n +2` (FreeBSD kldstat(8)): Id Refs Address Size Name
KLDSTAT = " 1   20 0xffffffff80200000  1f3e2d0 kernel\n 2    1 0xffffffff82a1a000    3a2c8 zfs.ko"
# `sockstat -l` (FreeBSD sockstat(1)): USER COMMAND PID FD PROTO LOCAL FOREIGN
SOCKSTAT = (
    "root     sshd       812   3  tcp4   *:22                  *:*\n"
    "root     syslogd    512   6  udp4   *.514                 *.*"
)
# `vmstat -s` (FreeBSD vmstat(8)): page counts and the page size
BSD_VMSTAT = (
    "     4096 bytes per page\n   100000 pages active\n   200000 pages inactive\n"
    "    50000 pages wired down\n   174288 pages free"
)
# `ifconfig -a` (FreeBSD ifconfig(8))
BSD_IFCONFIG = (
    "em0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500\n"
    "\tether 08:00:27:aa:bb:cc\n"
    "\tinet 10.0.2.15 netmask 0xffffff00 broadcast 10.0.2.255\n"
    "\tinet6 fe80::a00:27ff:feaa:bbcc%em0 prefixlen 64 scopeid 0x1\n"
    "lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> metric 0 mtu 16384\n"
    "\tinet 127.0.0.1 netmask 0xff000000\n"
)
# efibootmgr(8) without options (rhboot/efibootmgr README example)
EFIBOOTMGR = (
    "BootCurrent: 0004\nTimeout: 2 seconds\nBootOrder: 0004,0000,000A\n"
    "Boot0000* Diskette Drive(device:0)\nBoot0004* Linux\nBoot000A  Windows Boot Manager"
)


def test_bsd_and_macos_parsers() -> None:
    mounts = S.Mounts().process(["#fmt freebsd", FREEBSD_MOUNTS])
    assert mounts["/dev"] == {"device": "devfs", "type": "devfs", "options": ["rw", "multilabel"]}
    assert S.Mounts().process(["#fmt openbsd", OPENBSD_MOUNTS]) == {
        "/": {"device": "/dev/sd0a", "type": "ffs", "options": ["rw", "local"]}
    }
    modules = S.KernelModules().process(["#fmt kldstat", *KLDSTAT.splitlines()])
    assert modules["zfs.ko"] == {
        "address": "0xffffffff82a1a000",
        "id": "2",
        "refs": "1",
        "size": "3a2c8",
    }
    ports = S.Ports().process(["#fmt sockstat", *SOCKSTAT.splitlines()])
    assert ports == [
        {"port": 22, "ip": "*", "protocol": "tcp4", "process": "sshd"},
        {"port": 514, "ip": "*", "protocol": "udp4", "process": "syslogd"},
    ]
    assert S.Port().process(["#fmt sockstat", SOCKSTAT.splitlines()[0]]) == ("sshd", 812)
    assert hardware.Memory().process(BSD_VMSTAT.splitlines()) == round(524288 * 4096 / 1024 / 1024)
    devices = hardware.NetworkDevices().process(BSD_IFCONFIG.splitlines())
    assert devices["em0"]["ipv4"] == {
        "address": "10.0.2.15", "mask_bits": 24, "netmask": "255.255.255.0",
        "broadcast": "10.0.2.255",
    }  # fmt: skip
    assert devices["em0"]["ipv6"] == {"address": "fe80::a00:27ff:feaa:bbcc", "mask_bits": 64}
    assert devices["lo0"]["ipv4"]["mask_bits"] == 8 and devices["em0"]["mtu"] == 1500
    assert efibootmgr.EFIBootMgr().process(EFIBOOTMGR.splitlines()) == {
        "BootNext": None,
        "BootCurrent": 4,
        "Timeout": 2,
        "BootOrder": [4, 0, 10],
        "Entries": {
            0: (True, "Diskette Drive(device:0)"),
            4: (True, "Linux"),
            10: (False, "Windows Boot Manager"),
        },
    }
    # uptime(1) on FreeBSD/macOS, when there is no /proc/loadavg
    uptime = "10:00  up 3 days, 2 users, load averages: 1.50 1.25 1.00"
    assert S.LoadAverage().process([uptime]) == {
        "1": 1.5, "5": 1.25, "15": 1.0,
    }  # fmt: skip
    # BusyBox ps -o pid,user,vsz,stat,args
    busybox_ps = [
        "#fmt busybox",
        "PID   USER     VSZ  STAT COMMAND",
        "    1 root     2268 S    /sbin/init splash",
    ]
    assert S.Processes().process(busybox_ps)[1] == {
        "user": "root", "state": "S", "cpu_percent": 0.0, "mem_percent": 0.0,
        "command": "init", "args": "/sbin/init splash",
    }  # fmt: skip


def test_users_lastlog_and_crontab_parsers() -> None:
    output = [
        "root:x:0:0:root:/root:/bin/bash",
        "svc:x:998:998::/:",
        "#fmt group",
        "root:x:0:",
        "adm:x:4:svc,root",
        "svc:x:998:svc",
        "#fmt shadow",
        "root:$6$x$y:19000:0:99999:7:::",
        "#fmt lastlog",
        "Username Port From Latest",
        "root pts/0 10.0.0.1 Mon Jan 1 10:00:00 +0100 2024",
        "svc **Never logged in**",
    ]
    users = S.Users().process(output)
    assert users["root"]["groups"] == ["adm"] and users["root"]["password"] == "$6$x$y"
    assert users["root"]["lastlog"] == "Mon Jan 1 10:00:00 +0100 2024"
    assert users["root"]["login_time"] == datetime(
        2024, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=1))
    )
    assert users["svc"] == {
        "home": "/", "comment": None, "shell": None, "group": "svc", "groups": ["adm"],
        "uid": 998, "gid": 998, "lastlog": None, "login_time": None, "password": "",
    }  # fmt: skip

    text = [
        "# header",
        "SHELL=/bin/sh",
        "",
        "# pyinfra-name=job",
        "*/5 * * * * run it",
        "@reboot boot",
    ]
    table = parse_crontab(text)
    assert table is not None
    job = table["job"]
    assert job is not None and job["minute"] == "*/5" and table.get("@reboot") is None
    assert table["boot"] == {"command": "boot", "special_time": "@reboot", "comments": []}
    assert str(table) == "\n".join(text)


def test_iptables_rule_parser() -> None:
    rule = iptables.parse_iptables_rule(
        "-A INPUT ! -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -m comment --comment "
        '"ssh in" -j LOG --log-prefix "ssh: "'
    )
    assert rule == {
        "chain": "INPUT", "not_source": "10.0.0.0/8", "protocol": "tcp", "jump": "LOG",
        "log_prefix": "ssh: ",
        "extras": {"-m", "tcp", "--dport", "22", "comment", "--comment", "ssh in"},
    }  # fmt: skip


def test_operations_refuse_bad_input_before_running(fake: Host) -> None:
    """Checked before anything is sent to the host."""
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: server.crontab(command="x", hour=24), "argument hour is out of range: '24'"),
        (lambda: server.crontab(command="x", month="foo"), "argument month is out of range: 'foo'"),
        (lambda: server.crontab(command="x", minute="*/0"), "has a zero step"),
        (lambda: server.crontab(command="x", special_time="@often"), "special_time must be one of"),
        (lambda: server.hostname(hostname="bad name"), "argument hostname must be"),
        (lambda: server.sysctl(key="a;b", value=1), "argument key is not valid"),
        (lambda: server.timezone(timezone="../etc/passwd"), "not a time zone name"),
        (lambda: server.kill(pid=-5), "argument pid must be a process id"),
        (lambda: server.wait(port=70000), "argument port must be a port number"),
        (lambda: server.reboot(reboot_timeout=-1), "argument reboot_timeout must be"),
        (lambda: server.etc_hosts(ip="10.0.0.1"), "argument hostnames is required"),
        (lambda: server.security_limit("*", "sometimes", "nofile", 1), "limit_type must be"),
        (lambda: server.modprobe(module="a b"), "argument module is not valid"),
    ]
    for deploy, message in cases:
        assert message in fails(fake, deploy), message
    assert FakeConnector.commands_for("@fake/sys") == []


def test_freebsd_users_and_groups(fake: Host) -> None:
    """FreeBSD uses pw(8); the password goes through standard input, never argv."""
    answer(r"uname -s", "FreeBSD\n")
    FakeConnector.add_directory("@fake/sys", "/home/web")
    group = run(fake, lambda: server.group(group="web", gid=2000, system=True))
    assert commands(group) == ["pw groupadd -n web -g 2000"]
    user = run(fake, lambda: server.user(user="web", shell="/bin/sh", password="$6$x$y"))
    sent = commands(user)
    assert sent[:2] == ["pw useradd -n web -d /home/web -s /bin/sh", "pw usermod -n web -H 0"]
    assert all("$6$x$y" not in c for c in sent)
    calls = FakeConnector.commands_for("@fake/sys")
    assert any(c.stdin == b"$6$x$y\n" for c in calls)
