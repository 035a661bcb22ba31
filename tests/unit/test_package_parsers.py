"""Parsers of the package facts and dry runs, on real or documented tool output.

Where each capture comes from is said next to it. Debian-runnable tools (dpkg, apt,
rpm, dnf, zypper, pacman, pip, pipx, uv) are also compared with pyinfra 3.10 on a real
container by bench/compare_pkg_facts.py; these tests pin the formats of the others.
"""

from __future__ import annotations

from pyinfra.facts.apk import ApkPackages
from pyinfra.facts.apt import AptSources, parse_gpg_colons
from pyinfra.facts.brew import BrewCasks, BrewPackages, BrewTaps, BrewVersion
from pyinfra.facts.cargo import CargoPackages
from pyinfra.facts.choco import ChocoPackages
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.dnf import DnfDisabledModules, DnfEnabledModules, DnfRepositories
from pyinfra.facts.flatpak import FlatpakPackage, FlatpakPackages
from pyinfra.facts.gem import GemPackages
from pyinfra.facts.go import GoPackages
from pyinfra.facts.npm import NpmPackages
from pyinfra.facts.opkg import OpkgConf, OpkgFeeds, OpkgPackages, OpkgUpgradeablePackages
from pyinfra.facts.pkg import PkgPackages
from pyinfra.facts.pkgin import PkginPackages
from pyinfra.facts.server import LinuxDistribution, LsbRelease
from pyinfra.facts.snap import SnapPackage, SnapPackages
from pyinfra.facts.uv import UvInstalledPythonsByImplementation, UvTools
from pyinfra.facts.xbps import XbpsPackages
from pyinfra.operations._rpmfamily import parse_transaction, parse_zypper_xml, zypper_error
from pyinfra.operations.apk import parse_apk_simulation
from pyinfra.operations.apt import parse_apt_simulation
from pyinfra.operations.pacman import parse_pacman_print
from pyinfra.operations.pip import parse_pip_dry_run


def lines(text: str) -> list[str]:
    return text.strip("\n").splitlines()


def test_debian_family() -> None:
    # dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Version}\n' (Debian 12)
    out = (
        "ii \ttree\t2.1.0-1\nhi \tvim\t2:9.0.1378-2\nrc \told\t1.0\niU \thalf\t2.0\n"
        "ii \tlibc6\t2.36-9\nii \tlibc6\t2.36-8\n"
    )
    assert DebPackages().process(lines(out)) == {
        "tree": {"2.1.0-1"},
        "vim": {"2:9.0.1378-2"},
        "libc6": {"2.36-9", "2.36-8"},
    }
    # apt-get -s (Debian 12, captured on the test image)
    sim = """NOTE: This is only a simulation!
Inst pyi-dep (1.0 pyinfra-tests:stable [all])
Inst pyi-hello [1.0] (2.0 pyinfra-tests:stable [all])
Conf pyi-dep (1.0 pyinfra-tests:stable [all])
Remv hello [2.10-3]
Purg libfoo:amd64 [1.2]"""
    assert parse_apt_simulation(lines(sim)) == {
        "pyi-dep": "1.0",
        "pyi-hello": "2.0",
        "hello": None,
        "libfoo": None,
    }
    sources = AptSources().process(
        lines("""##PYINFRA_FILE /etc/apt/sources.list
deb [arch=amd64,i386 signed-by=/k.gpg] http://a.invalid/debian bookworm main contrib
# deb http://commented.invalid/ x main
##PYINFRA_FILE /etc/apt/sources.list.d/x.sources
Types: deb deb-src
URIs: http://b.invalid/debian
Suites: bookworm
Components: main
Enabled: yes

Types: deb
URIs: http://c.invalid/
Suites: stable
Enabled: no
""")
    )
    assert [(r.type, r.url, r.distribution, r.components, r.options) for r in sources] == [
        (
            "deb",
            "http://a.invalid/debian",
            "bookworm",
            ["main", "contrib"],
            {"arch": ["amd64", "i386"], "signed-by": "/k.gpg"},
        ),
        ("deb", "http://b.invalid/debian", "bookworm", ["main"], {}),
        ("deb-src", "http://b.invalid/debian", "bookworm", ["main"], {}),
    ]
    assert sources[0]["url"] == "http://a.invalid/debian" and "options" in sources[0]
    # gpg --with-colons (GnuPG 2.2): fpr/uid lines after "sub" belong to the subkey
    keys = parse_gpg_colons(
        lines("""pub:-:4096:1:B7C5D7D6350947F8:1674301461:1926589461::-:::scSC::::::23::0:
fpr:::::::::B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8:
uid:-::::1674301461::100567F0::Debian Archive Key <ftpmaster@debian.org>::::::::::0:
sub:-:4096:1:6ED0E7B82643E131:1674301461:1926589461:::::s::::::23:
fpr:::::::::4CB50190207B4758A3F73A796ED0E7B82643E131:""")
    )
    key = keys["B7C5D7D6350947F8"]
    assert key["length"] == 4096 and key["uid"].startswith("Debian Archive Key")
    assert key["fingerprint"].endswith("350947F8")
    assert key["subkeys"]["6ED0E7B82643E131"]["fingerprint"].endswith("2643E131")


def test_release_facts() -> None:
    info = LinuxDistribution().process(
        lines("""--pyinfra-release-file-- /etc/centos-release
CentOS Linux release 7.9.2009 (Core)
--pyinfra-release-file-- /etc/os-release
NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
VERSION_ID="7"
""")
    )
    assert (info["name"], info["major"], info["minor"]) == ("CentOS", 7, 9)
    assert info["release_meta"]["CODENAME"] == "Core"
    # lsb_release -ca (Debian 12)
    assert LsbRelease().process(
        lines("No LSB modules are available.\nDistributor ID:\tDebian\nRelease:\t12")
    ) == {"id": "Debian", "release": "12"}


def test_rpm_family_dry_runs() -> None:
    # dnf install --assumeno (dnf 4.14, captured on the test image)
    table = """Dependencies resolved.
================================================================================
 Package              Architecture      Version            Repository      Size
================================================================================
Installing:
 pyi-other            noarch            1.0-1              pyi            6.0 k
Upgrading:
 pyi-hello            noarch            2.0-1              pyi            6.0 k
Removing:
 pyi-local            noarch            1.0-1              @System          14
Transaction Summary
================================================================================
Operation aborted."""
    assert parse_transaction(lines(table)) == {
        "pyi-other": "1.0-1",
        "pyi-hello": "2.0-1",
        "pyi-local": None,
    }
    # zypper --xmlout install --dry-run (zypper 1.14, captured on the test image)
    xml = """<install-summary download-size="6113" packages-to-change="1">
<to-install>
<solvable type="package" name="pyi-other" edition="1.0-1" arch="noarch" summary="x">
</to-install>
<to-remove>
<solvable type="package" name="pyi-old" edition="0.1-1" arch="noarch" summary="x">
</to-remove>
</install-summary>"""
    assert parse_zypper_xml(lines(xml)) == {"pyi-other": "1.0-1", "pyi-old": None}
    assert (
        zypper_error(['<message type="error">No provider of &apos;x&apos; found.</message>'])
        == "No provider of 'x' found."
    )
    repos = DnfRepositories().process(
        lines("#pyinfra-filename: /etc/yum.repos.d/a.repo\n[a]\nbaseurl=http://x/\nenabled=1")
    )
    assert repos == [
        {
            "repoid": "a",
            "name": "a",
            "filename": "/etc/yum.repos.d/a.repo",
            "baseurl": "http://x/",
            "enabled": "1",
        }
    ]
    # dnf module list --enabled / --disabled (dnf 4, AlmaLinux 9 layout)
    modules = lines("""Name       Stream    Profiles                      Summary
nodejs     20 [e]    common [d], development       Javascript runtime
php        8.1 [d][x] common [d], devel            PHP scripting language
Hint: [d]efault, [e]nabled, [x]disabled, [i]nstalled""")
    assert DnfEnabledModules().process(modules) == {"nodejs": "20"}
    assert DnfDisabledModules().process(modules) == ["php"]


def test_other_linux_managers() -> None:
    # apk list --installed / apk add --simulate (apk-tools 2.14, Alpine 3.19 docs)
    assert ApkPackages().process(
        [
            "musl-1.2.4_git20230717-r4 x86_64 {musl} (MIT) [installed]",
            "ca-certificates-bundle-20240226-r0 x86_64 {ca-certificates} (MPL-2.0) [installed]",
        ]
    ) == {"musl": {"1.2.4_git20230717-r4"}, "ca-certificates-bundle": {"20240226-r0"}}
    assert parse_apk_simulation(
        [
            "(1/2) Installing curl (8.5.0-r0)",
            "(2/2) Upgrading musl (1.2.4-r1 -> 1.2.4-r2)",
            "(1/1) Purging nano (7.2-r1)",
            "OK: 10 MiB in 20 packages",
        ]
    ) == {"curl": "8.5.0-r0", "musl": "1.2.4-r2", "nano": None}
    # pacman --print --print-format '%n %v' (pacman 6.0, captured on the test image)
    assert parse_pacman_print(["pyi-hello 2.0-1", "pyi-other 1.0-1"]) == {
        "pyi-hello": "2.0-1",
        "pyi-other": "1.0-1",
    }
    # xbps-query -l (xbps 0.59, Void docs)
    assert XbpsPackages().process(["ii vim-9.0.2_1 Vi improved", "ii xbps-0.59.2_1 XBPS"]) == {
        "vim": {"9.0.2_1"},
        "xbps": {"0.59.2_1"},
    }
    # opkg (OpenWrt 23.05 docs: list-installed, list-upgradable, opkg.conf, feeds)
    assert OpkgPackages().process(["bash - 5.2.15-1", "zlib - 1.2.13-1"]) == {
        "bash": {"5.2.15-1"},
        "zlib": {"1.2.13-1"},
    }
    upgradable = OpkgUpgradeablePackages().process(["bash - 5.1-1 - 5.2-1"])
    assert upgradable["bash"].installed == "5.1-1" and upgradable["bash"].available == "5.2-1"
    conf = OpkgConf().process(
        ["dest root /", "lists_dir ext /var/opkg-lists", "option check_signature", "arch all 1"]
    )
    assert conf.paths == {"root": "/"} and conf.options == {"check_signature": True}
    feeds = OpkgFeeds().process(
        ["src/gz openwrt_base http://downloads/base", "CUSTOM", "src/gz mine http://mine"]
    )
    assert feeds["openwrt_base"].kind == "distribution" and feeds["mine"].kind == "custom"
    # snap list / snap info (snapd 2.61, Ubuntu 22.04)
    assert SnapPackages().process(
        [
            "Name    Version   Rev    Tracking       Publisher   Notes",
            "core20  20231123  2105   latest/stable  canonical✓  base",
        ]
    ) == ["core20"]
    info = SnapPackage().process(
        [
            "name:      lxd",
            "publisher: Canonical✓",
            "snap-id:   J60k4JY",
            "tracking:     5.0/stable",
            "channels:",
            "  5.0/stable:    5.0.3 2023-07-04 (27428) 145MB -",
            "installed:          5.0.3-d921d2e             (27428) 145MB -",
        ]
    )
    assert info == {
        "name": "lxd",
        "publisher": "Canonical✓",
        "snap-id": "J60k4JY",
        "channel": "5.0/stable",
        "version": "5.0.3-d921d2e",
    }
    # flatpak list --columns=application / flatpak info (flatpak 1.14)
    assert FlatpakPackages().process(["Application ID", "org.videolan.VLC"]) == ["org.videolan.VLC"]
    assert FlatpakPackage().process(
        ["          ID: org.signal.Signal", "     Version: 7.12.0"]
    ) == {
        "id": "org.signal.Signal",
        "version": "7.12.0",
    }


def test_bsd_mac_windows_and_language_managers() -> None:
    # pkg info (FreeBSD 14) / pkg_info (OpenBSD 7.4) / pkgin list (pkgsrc 2023Q4)
    assert PkgPackages().process(["vim-9.0.2 Vi improved", "py39-pip-23.0 x"]) == {
        "vim": {"9.0.2"},
        "py39-pip": {"23.0"},
    }
    assert PkginPackages().process(["vim-9.0.2 Vi IMproved", "tmux-3.3a;x"]) == {
        "vim": {"9.0.2"},
        "tmux": {"3.3a"},
    }
    # brew (Homebrew 4.2): --version, list --versions, tap
    assert BrewVersion().process(["Homebrew 4.2.5"]) == [4, 2, 5]
    assert BrewPackages().process(["git 2.43.0", "python@3.12 3.12.1 3.12.2"]) == {
        "git": {"2.43.0"},
        "python@3.12": {"3.12.1"},
    }
    assert BrewCasks().process(["firefox 121.0"]) == {"firefox": {"121.0"}}
    assert BrewTaps().process(["homebrew/cask", ""]) == ["homebrew/cask"]
    # choco list (Chocolatey 2.2)
    assert ChocoPackages().process(
        ["Chocolatey v2.2.2", "git 2.43.0", "2 packages installed."]
    ) == {"git": {"2.43.0"}}
    # npm list -g --depth=0 (npm 10), gem list (RubyGems 3.4), cargo install --list (1.75)
    assert NpmPackages().process(["/usr/lib", "├── npm@10.2.4", "└── @scope/pkg@1.0.0"]) == {
        "npm": {"10.2.4"},
        "@scope/pkg": {"1.0.0"},
    }
    assert GemPackages().process(["*** LOCAL GEMS ***", "bundler (2.4.10, default: 2.3.5)"]) == {
        "bundler": {"2.4.10", "2.3.5"}
    }
    assert CargoPackages().process(["ripgrep v13.0.0:", "    rg", "bat v0.24.0 (/src/bat):"]) == {
        "ripgrep": {"13.0.0"},
        "bat": {"0.24.0"},
    }
    # go version -m (Go 1.21)
    out = [
        "/root/go/bin/hello: go1.21.5",
        "\tpath\tgithub.com/x/hello",
        "\tmod\tgithub.com/x/hello\tv1.2.3\th1:abc",
        "/root/go/bin/dev: go1.21.5",
        "\tpath\texample.com/dev",
        "\tmod\texample.com/dev\t(devel)\t",
    ]
    assert GoPackages().process(out) == {"github.com/x/hello": {"v1.2.3"}}
    # uv (0.8.5, captured on the test image)
    assert UvTools().process(["cowsay v6.1", "- cowsay"]) == {"cowsay": {"6.1"}}
    pythons = [
        '[{"key": "cpython-3.11.2-linux-x86_64-gnu",',
        '"version": "3.11.2", "path": "/usr/bin/python3"}]',
    ]
    assert UvInstalledPythonsByImplementation().process(pythons) == {
        "cpython-3.11.2-linux-x86_64-gnu": {"3.11.2"}
    }
    # pip install --dry-run (pip 23.0)
    assert parse_pip_dry_run(["Would install six-1.17.0 typing-extensions-4.0.0"]) == {
        "six": "1.17.0",
        "typing-extensions": "4.0.0",
    }
