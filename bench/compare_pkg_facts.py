#!/usr/bin/env python3
"""Every package fact that applies on Debian, read with pyinfra 3.10 and with ours on
the same container, side by side: ``identical`` or ``different``.

    python3 bench/compare_pkg_facts.py [--pyinfra3 PYTHON] [--ours PYTHON] [--json OUT]

Needs root, dockerd and the image of scripts/setup-pkg.sh (built if missing). A
container ``pyi-pkg-compare-*`` is started, given some state (a signed apt repository,
deb822 and one-line sources, rpm/dnf/zypper/pacman repositories and packages, a
virtualenv, a pipx application, a uv tool), read by both, and removed. Exit status 1
when a value differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "bench" / "pkg_facts_worker.py"
IMAGE = "pyi-pkg-target:bookworm"

STATE = r"""set -e
mkdir -p /etc/apt/keyrings
gpg --batch --yes --dearmor -o /etc/apt/keyrings/pyi.gpg /srv/pyi/keys/pyi-repo.asc
echo 'deb [signed-by=/etc/apt/keyrings/pyi.gpg] file:/srv/pyi/apt ./' \
  > /etc/apt/sources.list.d/pyi.list
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pyi-hello tree pyi-tool >/dev/null
cat > /etc/yum.repos.d/pyi.repo <<'EOF'
[pyi]
name=pyi test repo
baseurl=file:///srv/pyi/rpm
enabled=1
gpgcheck=0

[other]
name=Other $releasever
mirrorlist=http://mirror.invalid/list
enabled=0
gpgcheck=1
gpgkey=file:///etc/pki/key
EOF
dnf -y -q install pyi-hello >/dev/null 2>&1
zypper -n -q ar -G file:///srv/pyi/rpm pyi-z >/dev/null 2>&1
pacman -S --noconfirm pyi-other >/dev/null 2>&1
python3 -m venv /opt/venv && /opt/venv/bin/pip install -q six==1.16.0 toml
pipx install cowsay >/dev/null 2>&1
uv tool install --force cowsay >/dev/null 2>&1
# Sources that cannot be fetched: written after the last apt-get update.
cat >> /etc/apt/sources.list.d/pyi.list <<'EOF'
# deb http://commented.invalid/debian bookworm main
deb-src [arch=amd64,i386] http://mirror.invalid/debian bookworm main contrib
EOF
cat > /etc/apt/sources.list.d/extra.sources <<'EOF'
Types: deb deb-src
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main contrib
Architectures: amd64 i386
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
Enabled: no

Types: deb-src
URIs: http://other.invalid/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
"""

FACTS: list[tuple[str, str, dict[str, object]]] = [
    ("apt.AptSources", "apt.AptSources", {}),
    ("apt.AptKeys", "apt.AptKeys", {}),
    ("apt.AptPackages", "apt.AptPackages", {}),
    (
        "apt.SimulateOperationWillChange",
        "apt.SimulateOperationWillChange",
        {"command": "install pyi-other pyi-hello"},
    ),
    (
        "apt.SimulateOperationWillChange remove",
        "apt.SimulateOperationWillChange",
        {"command": "remove pyi-dep"},
    ),
    ("deb.DebArch", "deb.DebArch", {}),
    ("deb.DebPackages", "deb.DebPackages", {}),
    ("deb.DebPackage installed", "deb.DebPackage", {"package": "tree"}),
    ("deb.DebPackage missing", "deb.DebPackage", {"package": "pyi-nosuch"}),
    ("deb.DebPackage file", "deb.DebPackage", {"package": "/srv/pyi/debs/pyi-local_1.0_all.deb"}),
    ("rpm.RpmPackages", "rpm.RpmPackages", {}),
    ("rpm.RpmPackage installed", "rpm.RpmPackage", {"package": "pyi-hello"}),
    (
        "rpm.RpmPackage file",
        "rpm.RpmPackage",
        {"package": "/srv/pyi/rpms/pyi-local-1.0-1.noarch.rpm"},
    ),
    ("rpm.RpmPackage missing", "rpm.RpmPackage", {"package": "pyi-nosuch"}),
    (
        "rpm.RpmPackageProvides",
        "rpm.RpmPackageProvides",
        {"package": "/usr/share/pyi-rpm/pyi-hello"},
    ),
    ("dnf.DnfRepositories", "dnf.DnfRepositories", {}),
    ("dnf.DnfEnabledModules", "dnf.DnfEnabledModules", {}),
    ("dnf.DnfDisabledModules", "dnf.DnfDisabledModules", {}),
    ("yum.YumRepositories", "yum.YumRepositories", {}),
    ("zypper.ZypperRepositories", "zypper.ZypperRepositories", {}),
    ("pacman.PacmanPackages", "pacman.PacmanPackages", {}),
    ("pacman.PacmanUnpackGroup group", "pacman.PacmanUnpackGroup", {"package": "pyi-group"}),
    ("pacman.PacmanUnpackGroup package", "pacman.PacmanUnpackGroup", {"package": "pyi-hello"}),
    ("pip.PipPackages venv", "pip.PipPackages", {"pip": "/opt/venv/bin/pip"}),
    ("pip.PipPackages", "pip.PipPackages", {}),
    ("pip.Pip3Packages", "pip.Pip3Packages", {}),
    ("pipx.PipxPackages", "pipx.PipxPackages", {}),
    ("pipx.PipxEnvironment", "pipx.PipxEnvironment", {}),
    ("uv.UvVersion", "uv.UvVersion", {}),
    ("uv.UvTools", "uv.UvTools", {}),
    ("uv.UvToolDir", "uv.UvToolDir", {}),
    ("uv.UvPythonDir", "uv.UvPythonDir", {}),
    ("uv.UvPipPackages", "uv.UvPipPackages", {}),
    ("uv.UvInstalledPythonsByVersion", "uv.UvInstalledPythonsByVersion", {}),
    (
        "uv.UvInstalledPythonsByImplementation system",
        "uv.UvInstalledPythonsByImplementation",
        {"is_managed": False},
    ),
    (
        "uv.UvInstalledPythonsByVersion system",
        "uv.UvInstalledPythonsByVersion",
        {"is_managed": False},
    ),
    ("server.LinuxDistribution", "server.LinuxDistribution", {}),
    ("server.LinuxName", "server.LinuxName", {}),
    ("server.LsbRelease", "server.LsbRelease", {}),
    ("server.OsRelease", "server.OsRelease", {}),
    ("server.MacosVersion", "server.MacosVersion", {}),
    # Managers absent on Debian: both must give the fact's default.
    ("apk.ApkPackages (absent)", "apk.ApkPackages", {}),
    ("xbps.XbpsPackages (absent)", "xbps.XbpsPackages", {}),
    ("brew.BrewPackages (absent)", "brew.BrewPackages", {}),
    ("snap.SnapPackages (absent)", "snap.SnapPackages", {}),
    ("flatpak.FlatpakPackages (absent)", "flatpak.FlatpakPackages", {}),
    ("npm.NpmPackages (absent)", "npm.NpmPackages", {}),
    ("gem.GemPackages (absent)", "gem.GemPackages", {}),
    ("cargo.CargoPackages (absent)", "cargo.CargoPackages", {}),
    ("go.GoPackages (absent)", "go.GoPackages", {}),
]


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def read_facts(python: str, target: str, facts_file: Path) -> dict[str, object]:
    result = run([python, str(WORKER), target, str(facts_file)], cwd="/tmp")
    if result.returncode != 0 or not result.stdout.strip():
        raise SystemExit(f"{python} worker failed: {result.stderr.strip()[-2000:]}")
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyinfra3", default="/opt/pyinfra310/bin/python")
    parser.add_argument("--ours", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("--json", help="write both sides' values to this file")
    args = parser.parse_args()

    if run(["bash", str(ROOT / "scripts" / "setup-pkg.sh")]).returncode != 0:
        raise SystemExit("scripts/setup-pkg.sh failed")
    name = f"pyi-pkg-compare-{uuid.uuid4().hex[:8]}"
    if run(["docker", "run", "-d", "--name", name, IMAGE]).returncode != 0:
        raise SystemExit(f"could not start a container of {IMAGE}")
    try:
        state = run(["docker", "exec", "-i", name, "bash", "-c", STATE])
        if state.returncode != 0:
            raise SystemExit(f"preparing the container failed: {state.stderr.strip()}")
        with tempfile.TemporaryDirectory(prefix="pyi-pkg-compare-") as tmp:
            facts_file = Path(tmp) / "facts.json"
            facts_file.write_text(json.dumps(FACTS))
            theirs = read_facts(args.pyinfra3, f"@docker/{name}", facts_file)
            ours = read_facts(args.ours, f"@docker/{name}", facts_file)
    finally:
        run(["docker", "rm", "-f", name])

    width = max(len(label) for label, _, _ in FACTS)
    different = 0
    for label, _, _ in FACTS:
        same = theirs.get(label) == ours.get(label)
        different += not same
        print(f"{label:<{width}}  {'identical' if same else 'DIFFERENT'}")
        if not same:
            print(f"    pyinfra 3.10: {json.dumps(theirs.get(label))[:400]}")
            print(f"    ours:         {json.dumps(ours.get(label))[:400]}")
    print(f"\n{len(FACTS) - different} identical, {different} different, of {len(FACTS)} facts")
    if args.json:
        Path(args.json).write_text(json.dumps({"pyinfra3": theirs, "ours": ours}, indent=1))
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
