"""Side by side: every Debian-applicable fact of the system modules (issue 14), read
with pyinfra 3.10 and with this project from the same containers.

    python bench/compare_sys_facts.py [--pyinfra310 /opt/pyinfra310/bin/python] [--keep]

Targets (started here, removed at the end; images from scripts/setup-sys.sh):
``base`` (debootstrap minbase), ``plain`` (the systemd image without systemd running:
init.d scripts, cron, iptables), ``systemd`` (systemd as PID 1, sshd, a real login
recorded), ``rc`` (OpenRC and runit started by hand), ``busybox`` (PATH=/bb: every
command is a BusyBox applet). The same content is put on them first (a user with
groups and a comment, a root crontab, limits, iptables rules, /etc/hosts lines).

Each fact is read in one process per implementation and target
(bench/sysfacts_probe.py) and compared as normalised JSON: ``identical``,
``different`` (with both values), or ``expected`` for the differences listed in
``EXPECTED`` (deliberate, with the reason). Volatile facts (clock, uptime, load,
processes' CPU) are compared by shape. Prints a Markdown report; exit status 1 if an
unexpected difference was found.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "bench" / "sysfacts_probe.py"
OURS = str(ROOT / ".venv" / "bin" / "python")
SYSTEMD_RUN = [
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
]  # fmt: skip

NO_ARGS: dict[str, Any] = {}
COMMON: list[tuple[str, dict[str, Any]]] = (
    [
        (f"server.{name}", NO_ARGS)
        for name in (
            "User Path TmpDir Hostname Kernel KernelVersion Os OsVersion Arch Date Uptime "
            "Timezone LoadAverage RebootRequired Mounts KernelModules Sysctl Users Groups "
            "Ports Locales SecurityLimits EtcHosts Selinux LinuxGui HasGui Last Lastb Processes"
        ).split()
    ]
    + [
        ("server.Home", {}),
        ("server.Home", {"user": "root"}),
        ("server.Home", {"user": "pyisys"}),
        ("server.Which", {"command": "sh"}),
        ("server.Which", {"command": "no-such-tool"}),
        ("server.Command", {"command": "echo one; echo two"}),
        ("server.AuthorizedKeys", {"user": "root"}),
        ("server.AuthorizedKeys", {"user": "pyisys", "path": "/home/pyisys/.ssh/authorized_keys"}),
        ("server.Port", {"port": 22}),
        ("server.Port", {"port": 9}),
        ("server.Processes", {"pid": 1}),
        ("server.Sysctl", {"keys": ["net.ipv4.ip_forward", "kernel.hostname", "no.such.key"]}),
        ("server.EtcHosts", {"path": "/etc/hosts"}),
        ("crontab.Crontab", {}),
        ("crontab.Crontab", {"user": "root"}),
        ("crontab.Crontab", {"user": "pyisys"}),
        ("efibootmgr.EFIBootMgr", {}),
        ("sysvinit.InitdStatus", {}),
        ("systemd.SystemdStatus", {}),
        ("systemd.SystemdEnabled", {}),
        ("systemd.SystemdStatus", {"services": ["ssh.service", "cron.service", "nope.service"]}),
        ("systemd.SystemdEnabled", {"services": "ssh.service"}),
        ("systemd.SystemdStatus", {"user_mode": True}),
        ("openrc.OpenrcStatus", {}),
        ("openrc.OpenrcEnabled", {}),
        ("openrc.OpenrcEnabled", {"runlevel": "boot"}),
        ("runit.RunitStatus", {}),
        ("runit.RunitManaged", {}),
        ("runit.RunitStatus", {"service": "pyisys"}),
        ("runit.RunitManaged", {"service": "pyisys"}),
        ("upstart.UpstartStatus", {}),
        ("launchd.LaunchdStatus", {}),
        ("bsdinit.RcdStatus", {}),
        ("iptables.IptablesRules", {}),
        ("iptables.IptablesRules", {"table": "nat"}),
        ("iptables.IptablesChains", {}),
        ("iptables.IptablesChains", {"table": "nat"}),
        ("iptables.Ip6tablesRules", {}),
        ("iptables.Ip6tablesChains", {}),
        ("selinux.SEBoolean", {"boolean": "httpd_can_network_connect"}),
        ("selinux.FileContext", {"path": "/etc"}),
        ("selinux.FileContextMapping", {"target": "/etc"}),
        ("selinux.SEPorts", {}),
        ("selinux.SEPort", {"protocol": "tcp", "port": 22}),
        ("zfs.ZfsPools", {}),
        ("zfs.ZfsDatasets", {}),
        ("zfs.ZfsFilesystems", {}),
        ("lxd.LxdContainers", {}),
        ("vzctl.OpenvzContainers", {}),
    ]
    + [
        (f"hardware.{name}", {})
        for name in (
            "Cpus CpuInfo Memory BlockDevices NetworkDevices Ipv4Addrs Ipv6Addrs "
            "Ipv4Addresses Ipv6Addresses"
        ).split()
    ]
)

# (fact key prefix, target or "*") -> why our value differs on purpose.
EXPECTED: dict[tuple[str, str], str] = {
    ("server.User {}", "*"): (
        "3.10 prints $USER, which `docker exec` does not set (3.10 gives ''); ours asks `id -un`"
    ),
    ('server.Home {"user": "pyisys"}', "base"): (
        "no such user: 3.10 returns the unexpanded '~pyisys', ours None"
    ),
    ('server.Home {"user": "pyisys"}', "rc"): (
        "no such user: 3.10 returns the unexpanded '~pyisys', ours None"
    ),
    ('server.Home {"user": "pyisys"}', "busybox"): (
        "no such user: 3.10 returns the unexpanded '~pyisys', ours None"
    ),
    ("hardware.Memory {}", "base"): (
        "no vmstat (procps) on the minimal image: 3.10 gives None, ours reads /proc/meminfo"
    ),
    ("hardware.Memory {}", "busybox"): (
        "BusyBox has no `vmstat -s`: 3.10 gives None, ours reads /proc/meminfo"
    ),
    ("hardware.Cpus {}", "busybox"): (
        "BusyBox has no getconf: 3.10 fails the fact, ours falls back to nproc"
    ),
    ("hardware.CpuInfo {}", "*"): (
        "3.10 cuts lscpu values at their first colon ('Vulnerable: Safe RET, no microcode' "
        "-> 'Vulnerable'); ours keeps the whole value"
    ),
}

VOLATILE: dict[str, Callable[[Any, Any], bool]] = {}


def _unwrap_dict(value: Any) -> dict[str, Any]:
    return dict(value["__dict__"]) if isinstance(value, dict) and "__dict__" in value else {}


def _same_keys(a: Any, b: Any) -> bool:
    return set(_unwrap_dict(a)) == set(_unwrap_dict(b))


def _close_numbers(limit: float) -> Callable[[Any, Any], bool]:
    return lambda a, b: isinstance(a, int) and isinstance(b, int) and abs(a - b) <= limit


def _close_dates(a: Any, b: Any) -> bool:
    from datetime import datetime

    try:
        x = datetime.fromisoformat(a["__datetime__"])
        y = datetime.fromisoformat(b["__datetime__"])
    except (TypeError, KeyError, ValueError):
        return False
    return x.utcoffset() == y.utcoffset() and abs((x - y).total_seconds()) < 120


def _processes(a: Any, b: Any) -> bool:
    """Same shape; the long-lived processes (pid 1...) agree on user/command/args."""
    pa, pb = _unwrap_dict(a), _unwrap_dict(b)
    common = set(pa) & set(pb)
    if "1" not in common:
        return False
    for pid in common:
        x, y = _unwrap_dict(pa[pid]), _unwrap_dict(pb[pid])
        if set(x) != set(y):
            return False
        for key in ("'user'", "'command'"):
            if x[key] != y[key] and pid == "1":
                return False
    return True


def _sysctl(a: Any, b: Any) -> bool:
    """Same keys; values equal except counters that move between two reads."""
    moving = (
        "fs.dentry-state", "fs.file-nr", "fs.inode-nr", "fs.inode-state", "kernel.random.",
        "kernel.ns_last_pid", "fs.quota.", "net.netfilter.nf_conntrack_count", "kernel.pty.nr",
        "vm.", "kernel.sched_",
    )  # fmt: skip
    x, y = _unwrap_dict(a), _unwrap_dict(b)
    if set(x) != set(y):
        return False
    return all(x[k] == y[k] for k in x if not k.strip("'").startswith(moving))


def _cpuinfo(a: Any, b: Any) -> bool:
    x, y = _unwrap_dict(a), _unwrap_dict(b)
    moving = ("'CPU MHz'", "'BogoMIPS'", "'CPU(s) scaling MHz'", "'CPU max MHz'", "'CPU min MHz'")
    return set(x) == set(y) and all(x[k] == y[k] for k in x if k not in moving)


def _block_devices(a: Any, b: Any) -> bool:
    x, y = _unwrap_dict(a), _unwrap_dict(b)
    if set(x) != set(y):
        return False
    for name in x:
        p, q = _unwrap_dict(x[name]), _unwrap_dict(y[name])
        if set(p) != set(q) or p["'mount'"] != q["'mount'"] or p["'blocks'"] != q["'blocks'"]:
            return False
    return True


VOLATILE.update(
    {
        "hardware.CpuInfo {}": _cpuinfo,
        "hardware.BlockDevices {}": _block_devices,
        "server.Date {}": _close_dates,
        "server.Uptime {}": _close_numbers(120),
        "server.LoadAverage {}": _same_keys,
        "server.Processes {}": _processes,
        'server.Processes {"pid": 1}': _processes,
        "server.Sysctl {}": _sysctl,
    }
)


def docker(*args: str, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def sh(container: str, script: str) -> None:
    docker("exec", container, "sh", "-c", script)


SEED = r"""
set -e
useradd -m -c 'Sys Test' -G daemon,sys -s /bin/sh pyisys 2>/dev/null || true
if command -v crontab >/dev/null; then
  printf 'MAILTO=""\n# nightly\n0 3 * * * echo nightly >/dev/null\n@daily echo daily\n' > /tmp/c
  printf '*/5 1-2 * jan mon-fri echo five\n' >> /tmp/c && crontab /tmp/c && rm /tmp/c
fi
printf '# limits\n*\tsoft\tnofile\t4096\n@adm hard nproc 100\n' >> /etc/security/limits.conf
printf '10.9.9.9 pyi-one pyi-two\n10.9.9.9 pyi-three # merged\n' >> /etc/hosts
"""
IPTABLES = (
    "iptables -A INPUT -p tcp --dport 2222 -s 10.0.0.1 -j DROP && "
    "iptables -A INPUT ! -s 10.0.0.0/8 -i lo -j ACCEPT && "
    "iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80 && "
    "iptables -N PYISYS && ip6tables -A INPUT -s ::1 -j ACCEPT"
)
LOGIN = (
    "mkdir -p /root/.ssh && ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519 && "
    "cat /root/.ssh/id_ed25519.pub >> /root/.ssh/authorized_keys && "
    "ssh -o StrictHostKeyChecking=no -o BatchMode=yes root@localhost true"
)
RC_START = (
    "mkdir -p /run/openrc && touch /run/openrc/softlevel && openrc default >/dev/null 2>&1; "
    "printf '#!/usr/sbin/openrc-run\\ncommand=/bin/sleep\\ncommand_args=1000\\n"
    "command_background=true\\npidfile=/run/pyisysd.pid\\n' > /etc/init.d/pyisysd && "
    "chmod 755 /etc/init.d/pyisysd && rc-update add pyisysd default >/dev/null 2>&1 && "
    "rc-service pyisysd start >/dev/null 2>&1; "
    "mkdir -p /etc/sv/pyisys /var/service && printf '#!/bin/sh\\nexec sleep 1000\\n' "
    "> /etc/sv/pyisys/run && chmod 755 /etc/sv/pyisys/run && "
    "ln -sf /etc/sv/pyisys /var/service/pyisys && "
    "(setsid runsvdir /var/service </dev/null >/dev/null 2>&1 &) ; sleep 6"
)


def start_targets(prefix: str) -> dict[str, str]:
    subprocess.run(["bash", str(ROOT / "scripts" / "setup-sys.sh")], check=True)
    names = {t: f"{prefix}-{t}" for t in ("base", "plain", "systemd", "rc", "busybox")}
    docker("run", "-d", "--name", names["base"], "pyinfra-test-base:bookworm", "sleep", "infinity")
    docker(
        "run", "-d", "--name", names["plain"], "--cap-add", "NET_ADMIN", "--cap-add", "SYS_ADMIN",
        "pyi-sys-systemd:bookworm", "sleep", "infinity",
    )  # fmt: skip
    docker("run", "-d", "--name", names["systemd"], *SYSTEMD_RUN, "pyi-sys-systemd:bookworm")
    docker("run", "-d", "--name", names["rc"], "pyi-sys-rc:bookworm")
    docker("run", "-d", "--name", names["busybox"], "-e", "PATH=/bb", "pyi-sys-rc:bookworm")
    for target in ("base", "plain", "systemd", "rc"):
        sh(names[target], SEED)
    sh(names["plain"], IPTABLES + " && /etc/init.d/cron start >/dev/null")
    for _ in range(60):
        state = docker("exec", names["systemd"], "systemctl", "is-system-running", check=False)
        if state.strip() in ("running", "degraded"):
            break
        time.sleep(0.5)
    sh(names["systemd"], IPTABLES + " && " + LOGIN)
    sh(names["rc"], RC_START)
    return names


def probe(python: str, host: str, facts: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    request = json.dumps({"host": host, "facts": facts})
    env = {**os.environ, "PYTHONPATH": ""}
    result = subprocess.run(
        [python, str(PROBE)], input=request, capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{python} probe on {host} failed: {result.stderr.strip()[-2000:]}")
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def _colon_cut_only(theirs: Any, ours: Any) -> bool:
    """CpuInfo: the only differences are values 3.10 cut at their first colon."""
    x, y = _unwrap_dict(theirs), _unwrap_dict(ours)
    return set(x) == set(y) and all(
        x[k] == y[k] or (isinstance(y[k], str) and ":" in y[k] and y[k].split(":")[0] == x[k])
        for k in x
        if k not in ("'CPU MHz'", "'BogoMIPS'", "'CPU(s) scaling MHz'")
    )


# Expected differences that must also pass a check on the two values.
EXPECTED_CHECKS: dict[str, Callable[[Any, Any], bool]] = {"hardware.CpuInfo {}": _colon_cut_only}


def expected_reason(key: str, target: str, a: Any, b: Any) -> str | None:
    check = EXPECTED_CHECKS.get(key)
    if check is not None and not check(a.get("value"), b.get("value")):
        return None
    for (prefix, where), reason in EXPECTED.items():
        if key.startswith(prefix) and where in ("*", target):
            return reason
    return None


def compare(
    theirs: dict[str, Any], ours: dict[str, Any], target: str
) -> list[tuple[str, str, str]]:
    rows = []
    for key in theirs:
        a, b = theirs[key], ours.get(key, {"error": "missing"})
        if "error" in a and "error" in b:
            note = f"3.10: {a['message'][:120]} / ours: {b['message'][:120]}"
            rows.append((key, "both fail", note))
            continue
        if "error" in a or "error" in b:
            same = False
        elif key in VOLATILE:
            same = VOLATILE[key](a["value"], b["value"])
        else:
            same = a["value"] == b["value"]
        if same:
            rows.append((key, "identical", ""))
            continue
        reason = expected_reason(key, target, a, b)
        detail = f"3.10: {json.dumps(a)[:300]} / ours: {json.dumps(b)[:300]}"
        rows.append((key, "expected" if reason else "DIFFERENT", reason or detail))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pyinfra310", default="/opt/pyinfra310/bin/python")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    parser.add_argument("--only", help="compare only facts whose key contains this text")
    args = parser.parse_args()
    facts = [f for f in COMMON if not args.only or args.only in f[0]]
    names = start_targets(f"pyi-sys-cmp{uuid.uuid4().hex[:6]}")
    failures = 0
    try:
        print("| target | fact | result | note |\n|---|---|---|---|")
        totals: dict[str, dict[str, int]] = {}
        for target, container in names.items():
            host = f"@docker/{container}"
            theirs = probe(args.pyinfra310, host, facts)
            ours = probe(OURS, host, facts)
            for key, result, note in compare(theirs, ours, target):
                totals.setdefault(target, {}).setdefault(result, 0)
                totals[target][result] += 1
                if result != "identical":
                    print(f"| {target} | `{key}` | {result} | {note} |")
                failures += result == "DIFFERENT"
        print()
        for target, counts in totals.items():
            summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            print(f"- {target}: {sum(counts.values())} fact reads: {summary}")
    finally:
        if not args.keep:
            docker("rm", "-f", *names.values(), check=False)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
