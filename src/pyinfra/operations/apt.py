"""apt (Debian, Ubuntu and derivatives): packages, ``.deb`` files, repositories, keys.

Package changes are dry-run first (``apt-get -s``) in the same read that checks that
``apt-get`` exists and that we are root: the dry run gives apt's own error for an
unknown package before anything changes, and the exact packages (dependencies
included) the change installs or removes, which become the new ``deb.DebPackages``
value without reading it again.
"""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import FileUploadCommand, QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts._packages import ManagerProbe
from pyinfra.facts.apt import (
    APT_UPDATE_STAMP,
    AptPackages,
    AptRepo,
    AptSources,
    AptSourcesFile,
    AptUpdateAge,
    KeyringDigests,
    SimulateOperationWillChange,
    parse_list_line,
)
from pyinfra.facts.deb import DebPackage, DebPackages
from pyinfra.facts.files import File
from pyinfra.operations._packaging import (
    Changes,
    Manager,
    Unsimulated,
    apply_changes,
    ensure_packages,
    extra_args,
    package_list,
    package_specs,
    probe,
    quoted,
    run_command,
    upgrade_all,
)
from pyinfra.operations._pkgfiles import download, is_url, package_file
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]

APT_GET = [
    "DEBIAN_FRONTEND=noninteractive",
    "apt-get",
    "-y",
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "Dpkg::Options::=--force-confold",
]
_VERSION = re.compile(r"[A-Za-z0-9.+~:_*-]+")
# apt-get -s lines: "Inst name [old] (new repo [arch])", "Remv name [old]", "Purg name [old]"
_SIM_LINE = re.compile(r"^(Inst|Remv|Purg)\s+(\S+)(?:\s+\[([^\]]*)\])?(?:\s+\((\S+))?")
HINT = "not a Debian-family host?"
KEYRING_DIR = "/etc/apt/keyrings"
SOURCES_DIR = "/etc/apt/sources.list.d"
# Facts a package change makes stale besides deb.DebPackages (which it updates).
_DROPPED = (AptPackages, DebPackage, SimulateOperationWillChange)


def _canonical(name: str) -> str:
    """``vim:amd64`` and ``vim/bookworm-backports`` are the package ``vim``."""
    return name.split("/", 1)[0].split(":", 1)[0]


def parse_apt_simulation(lines: list[str]) -> Changes:
    """Packages an ``apt-get -s`` run installs/upgrades (new version) or removes (None)."""
    changes: Changes = {}
    for line in lines:
        match = _SIM_LINE.match(line.strip())
        if not match:
            continue
        action, name, _old, new = match.groups()
        changes[_canonical(name)] = new if action == "Inst" else None
    return changes


def _apt_error(lines: list[str]) -> str:
    errors = [line.strip() for line in lines if line.strip().startswith("E:")]
    if errors:
        return errors[0]
    texts = [line.strip() for line in lines if line.strip()]
    return texts[-1] if texts else "apt-get failed"


def _command(action: str, args: list[Any], options: list[str]) -> StringCommand:
    return StringCommand(*APT_GET, action, *options, *args)


def _manager(
    op: str,
    install_options: list[str],
    remove_action: str,
    remove_options: list[str],
) -> Manager:
    def install(packages: list[str]) -> StringCommand:
        return _command("install", quoted(packages), install_options)

    def remove(packages: list[str]) -> StringCommand:
        return _command(remove_action, quoted(packages), remove_options)

    def simulate(kind: str, packages: list[str]) -> StringCommand:
        command = remove(packages) if kind == "remove" else install(packages)
        return StringCommand(command, "-s")

    return Manager(
        op=op,
        tool="apt-get",
        hint=HINT,
        install=install,
        remove=remove,
        simulate=simulate,
        parse_simulation=parse_apt_simulation,
        canonical=_canonical,
        error_line=_apt_error,
    )


def _run_update(op: str, cache_time: int | None) -> Commands:
    if cache_time:
        age = host.get_fact(AptUpdateAge)
        if age is not None and 0 <= age < cache_time:
            host.noop(f"apt was updated {age} s ago (cache_time={cache_time})")
            return
    _check_root(op)
    yield StringCommand(
        *APT_GET, "update", "&&", "mkdir", "-p", posixpath.dirname(APT_UPDATE_STAMP),
        "&&", "touch", APT_UPDATE_STAMP,
    )  # fmt: skip
    yield FactChange(
        facts=(SimulateOperationWillChange, ManagerProbe),
        known=((AptUpdateAge, {}, 0),),
    )


def _check_root(op: str) -> None:
    """Fail with one clear line unless apt-get is there and we are root (one read)."""
    probe(Manager(op, "apt-get", HINT))


def _run_upgrade(op: str, action: str, auto_remove: bool) -> Commands:
    command = StringCommand(*APT_GET, action, *(["--autoremove"] if auto_remove else []))
    yield from upgrade_all(
        Manager(op, "apt-get", HINT, error_line=_apt_error),
        DebPackages,
        command=command,
        simulate=StringCommand(command, "-s"),
        parse=parse_apt_simulation,
        nothing=f"apt-get {action}: nothing to upgrade",
        also_drop=_DROPPED,
    )


@operation()
def update(cache_time: int | None = None) -> Commands:
    """``apt-get update``; with ``cache_time`` (seconds) only when the last successful
    update is older than that (apt's ``update-success-stamp``, touched after each update)."""
    yield from _run_update("apt.update", cache_time)


_update = update  # pyinfra 3.x also exports these aliases


@operation()
def upgrade(auto_remove: bool = False) -> Commands:
    """``apt-get upgrade`` (``--autoremove`` with ``auto_remove``), only when the dry run
    says something would be upgraded."""
    yield from _run_upgrade("apt.upgrade", "upgrade", auto_remove)


_upgrade = upgrade


@operation()
def dist_upgrade(auto_remove: bool = False) -> Commands:
    """``apt-get dist-upgrade`` (``--autoremove`` with ``auto_remove``), only when the dry
    run says something would change."""
    yield from _run_upgrade("apt.dist_upgrade", "dist-upgrade", auto_remove)


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    update: bool = False,
    cache_time: int | None = None,
    upgrade: bool = False,
    force: bool = False,
    no_recommends: bool = False,
    allow_downgrades: bool = False,
    purge: bool = False,
    extra_install_args: str | None = None,
    extra_uninstall_args: str | None = None,
) -> Commands:
    """Install, upgrade (``latest``) or remove apt packages; ``name=version`` pins.

    ``update``/``cache_time`` run ``apt-get update`` first (see ``apt.update``),
    ``upgrade`` an ``apt-get upgrade``; ``no_recommends``, ``allow_downgrades``,
    ``force`` (``--force-yes``) and ``extra_install_args`` change the install command,
    ``purge`` and ``extra_uninstall_args`` the removal. With ``latest``, installed
    packages are upgraded only when apt has a newer version.
    """
    op = "apt.packages"
    specs = package_specs(op, packages, present, latest, "=", _VERSION)
    if update:
        yield from _run_update(op, cache_time)
    if upgrade:
        yield from _run_upgrade(op, "upgrade", False)
    install_options = (
        (["--no-install-recommends"] if no_recommends else [])
        + (["--allow-downgrades"] if allow_downgrades else [])
        + (["--force-yes"] if force else [])
        + extra_args(extra_install_args)
    )
    manager = _manager(
        op, install_options, "purge" if purge else "remove", extra_args(extra_uninstall_args)
    )
    yield from ensure_packages(manager, DebPackages, specs, present, latest, also_drop=_DROPPED)


# .deb files ---------------------------------------------------------------------------


@operation()
def deb(src: str, present: bool = True, force: bool = False) -> Commands:
    """Install (with its dependencies, by ``apt-get install ./file.deb``) or remove the
    package of a ``.deb`` file on the host or at a URL (downloaded to the temp dir)."""
    op = "apt.deb"
    path = yield from package_file(op, src, ".deb", DebPackage, "a .deb file")
    if not path.startswith("/"):
        path = "./" + path
    info = host.get_fact(DebPackage, package=path)
    if info is None:
        if not present:
            host.noop(f"{src} is not available: nothing to remove")
            return
        if host.state is not None and host.state.dry and is_url(src):
            yield _command("install", [QuoteString(path)], [])
            return
        raise fail(op, f"{src} is not a readable .deb file on {host.name}")
    name, version = info["name"], info["version"]
    installed = host.get_fact(DebPackages).get(name, set())
    manager = _manager(op, ["--force-yes"] if force else [], "remove", [])
    if present:
        if version in installed and not force:
            host.noop(f"package {name} {version} is installed")
            return
        simulate = StringCommand(manager.install([path]), "-s")
        try:
            changes = parse_apt_simulation(probe(manager, simulate, ("deb", path, "in")))
        except Unsimulated:
            changes = {}
        changes[name] = version
        yield manager.install([path])
    else:
        if not installed:
            host.noop(f"package {name} is not installed")
            return
        simulate = StringCommand(manager.remove([name]), "-s")
        try:
            changes = parse_apt_simulation(probe(manager, simulate, ("deb-rm", name, "rm")))
        except Unsimulated:
            changes = {}
        changes[name] = None
        yield manager.remove([name])
    current = host.get_fact(DebPackages)
    yield FactChange(facts=_DROPPED, known=((DebPackages, {}, apply_changes(current, changes)),))


# Keys ----------------------------------------------------------------------------------


def _keyring_path(dest: str) -> str:
    if not dest.endswith(".gpg"):
        dest = dest.rsplit(".", 1)[0] + ".gpg" if dest.endswith((".asc", ".key")) else dest + ".gpg"
    return dest if dest.startswith("/") else f"{KEYRING_DIR}/{dest}"


def _dest_for(src: str | None, keyid: list[str]) -> str:
    if src:
        base = posixpath.basename(src.split("?", 1)[0]) or "apt-key"
        return _keyring_path(base)
    return _keyring_path("apt-keyring-" + "-".join(k.replace("0x", "") for k in keyid))


def _install_key(src: str, dest: str) -> StringCommand:
    s, d = QuoteString(src), QuoteString(dest)
    return StringCommand(
        "mkdir", "-p", "-m", "755", QuoteString(posixpath.dirname(dest)), "&&",
        "if", "grep", "-q", "'BEGIN PGP PUBLIC KEY BLOCK'", s, ";", "then",
        "gpg", "--batch", "--yes", "--dearmor", "-o", d, s, ";",
        "else", "cp", s, d, ";", "fi", "&&", "chmod", "644", d,
    )  # fmt: skip


def _keyserver_command(keyserver: str, keyids: list[str], dest: str) -> StringCommand:
    home = '"$GNUPGHOME"'
    return StringCommand(
        "mkdir", "-p", "-m", "755", QuoteString(posixpath.dirname(dest)), "&&",
        "export", 'GNUPGHOME="$(mktemp -d)"', "&&",
        "gpg", "--batch", "--keyserver", QuoteString(keyserver), "--recv-keys", *quoted(keyids),
        "&&", "gpg", "--batch", "--yes", "--export", *quoted(keyids), ">", QuoteString(dest),
        "&&", "chmod", "644", QuoteString(dest), ";", "rc=$?;", "rm", "-rf", home, ";",
        "exit", "$rc",
    )  # fmt: skip


def _remove_keyids(keyids: list[str]) -> StringCommand:
    """Delete keys by id from every binary keyring apt reads; drop keyrings left empty."""
    ids = " ".join(keyids)  # checked to be hexadecimal ids: nothing to quote
    script = (
        "for f in /etc/apt/trusted.gpg.d/*.gpg /etc/apt/keyrings/*.gpg; do "
        '[ -f "$f" ] || continue; '
        f'for k in {ids}; do gpg --batch --yes --no-default-keyring --keyring "$f" '
        '--delete-keys "$k" >/dev/null 2>&1; done; rm -f "$f~"; '
        'if ! gpg --no-default-keyring --keyring "$f" --list-keys --with-colons 2>/dev/null '
        '| grep -q "^pub"; then rm -f "$f"; fi; done'
    )
    return StringCommand("sh", "-c", QuoteString(script))


_KEYID = re.compile(r"(0x)?[0-9A-Fa-f]{8,40}")


@operation()
def key(
    src: str | None = None,
    keyserver: str | None = None,
    keyid: str | list[str] | None = None,
    dest: str | None = None,
    present: bool = True,
) -> Commands:
    """Add or remove an apt keyring under ``/etc/apt/keyrings`` (no ``apt-key``).

    ``src``: a key file on the host (ASCII-armored keys are dearmored) or a URL;
    ``keyserver`` + ``keyid``: fetch keys by id; ``dest``: the keyring file name or
    absolute path (``.gpg`` enforced; default from ``src`` or the key ids). Removal
    deletes ``dest`` (or the keyring made from ``src``), or with ``keyid`` only those
    keys from every apt keyring. Reference keyrings with ``signed-by=`` in sources.
    """
    op = "apt.key"
    keyids = package_list(op, keyid, "keyid") if keyid is not None else []
    for k in keyids:
        if not _KEYID.fullmatch(k):
            raise fail(op, f"keyid {k!r} is not a hexadecimal key id")
    if present and not src and not keyserver:
        raise fail(op, "give src (a key file or URL) or keyserver and keyid")
    if keyserver and not keyids:
        raise fail(op, "keyserver needs keyid (the ids of the keys to fetch)")
    if not present:
        if keyids and not dest:
            known = host.get_fact(_apt_keys_fact())
            wanted = {k.upper().replace("0X", "")[-16:] for k in keyids}
            if not known or not any(k[-16:] in wanted for k in known):
                host.noop(f"no apt keyring holds key {', '.join(keyids)}")
                return
            _check_root(op)
            yield _remove_keyids(keyids)
            yield FactChange(facts=(_apt_keys_fact(),))
            return
        if not dest and not src:
            raise fail(op, "give dest (the keyring to remove), src or keyid")
        path = _keyring_path(dest) if dest else _dest_for(src, keyids)
        if not host.get_fact(File, path=path):
            host.noop(f"keyring {path} does not exist")
            return
        _check_root(op)
        yield StringCommand("rm", "-f", QuoteString(path))
        yield FactChange(paths=(path,), facts=(_apt_keys_fact(),))
        return

    path = _keyring_path(dest) if dest else _dest_for(src, keyids)
    if keyserver:
        if host.get_fact(File, path=path):
            host.noop(f"keyring {path} already exists")
            return
        _check_root(op)
        yield _keyserver_command(keyserver, keyids, path)
        yield FactChange(paths=(path,), facts=(_apt_keys_fact(),))
        return
    assert src is not None
    if is_url(src):
        if host.get_fact(File, path=path):
            host.noop(f"keyring {path} already exists")
            return
        temp = host.get_temp_filename(src)
        _check_root(op)
        yield StringCommand(
            download(src, temp), "&&", _install_key(temp, path), ";", "rc=$?;",
            "rm", "-f", QuoteString(temp), ";", "exit", "$rc",
        )  # fmt: skip
        yield FactChange(paths=(path,), facts=(_apt_keys_fact(),))
        return
    digests = host.get_fact(KeyringDigests, src=src, dest=path)
    if digests["src"] is None:
        raise fail(op, f"key file {src} not found on {host.name}")
    if digests["src"] == digests["dest"]:
        host.noop(f"keyring {path} already holds {src}")
        return
    _check_root(op)
    yield _install_key(src, path)
    yield FactChange(
        paths=(path,),
        facts=(_apt_keys_fact(),),
        known=((KeyringDigests, {"src": src, "dest": path}, {**digests, "dest": digests["src"]}),),
    )


def _apt_keys_fact() -> type[Any]:
    from pyinfra.facts.apt import AptKeys

    return AptKeys


# Repositories ----------------------------------------------------------------------------


def _repo_file(filename: str | None) -> str:
    if not filename:
        return "/etc/apt/sources.list"
    name = filename if filename.endswith(".list") else filename + ".list"
    return name if name.startswith("/") else f"{SOURCES_DIR}/{name}"


def _same_repo(a: AptRepo, b: AptRepo) -> bool:
    return (a.type, a.url.rstrip("/"), a.distribution, a.components, a.options) == (
        b.type,
        b.url.rstrip("/"),
        b.distribution,
        b.components,
        b.options,
    )


def _append_line(path: str, line: str) -> StringCommand:
    p = QuoteString(path)
    return StringCommand(
        "mkdir", "-p", QuoteString(posixpath.dirname(path)), "&&", "{",
        "if", "[", "-s", p, "]", "&&", "[", '"$(tail -c1', p, ')"', "];", "then", "echo;", "fi;",
        "printf", "'%s\\n'", QuoteString(line), ";", "}", ">>", p,
    )  # fmt: skip


@operation()
def repo(src: str, present: bool = True, filename: str | None = None) -> Commands:
    """Add or remove a one-line apt source (``deb [opts] URL SUITE COMPONENTS``) in
    ``/etc/apt/sources.list.d/<filename>.list`` (default ``/etc/apt/sources.list``).

    A repository already configured in any apt source file counts as present.
    """
    op = "apt.repo"
    wanted = parse_list_line(src.strip()) if isinstance(src, str) else None
    if wanted is None:
        raise fail(op, f"not an apt source line: {src!r} (expected 'deb URL SUITE [COMPONENTS]')")
    sources: list[AptRepo] = host.get_fact(AptSources)
    exists = any(_same_repo(wanted, r) for r in sources)
    path = _repo_file(filename)
    if present:
        if exists:
            host.noop(f"apt repo {src!r} exists")
            return
        _check_root(op)
        yield _append_line(path, src.strip())
        yield FactChange(paths=(path,), known=((AptSources, {}, [*sources, wanted]),))
        return
    if not exists:
        host.noop(f"apt repo {src!r} does not exist")
        return
    p = QuoteString(path)
    _check_root(op)
    yield StringCommand(
        "if", "[", "-f", p, "];", "then", "grep", "-vxF", "--", QuoteString(src.strip()), p,
        ">", QuoteString(path + ".pyinfra-tmp"), ";", "cat", QuoteString(path + ".pyinfra-tmp"),
        ">", p, "&&", "rm", "-f", QuoteString(path + ".pyinfra-tmp"), ";", "fi",
    )  # fmt: skip
    yield FactChange(paths=(path,), facts=(AptSources,))


@operation()
def ppa(src: str, present: bool = True) -> Commands:
    """Add or remove an Ubuntu PPA (``ppa:user/repo``) with ``add-apt-repository``."""
    op = "apt.ppa"
    match = re.fullmatch(r"ppa:([\w.+-]+)/([\w.+-]+)", src or "")
    if match is None:
        raise fail(op, f"not a PPA name: {src!r} (expected ppa:USER/REPO)")
    user, name = match.groups()
    sources: list[AptRepo] = host.get_fact(AptSources)
    exists = any(f"/{user}/{name}/" in r.url + "/" and "launchpad" in r.url for r in sources)
    if present == exists:
        host.noop(f"PPA {src} is {'' if exists else 'not '}configured")
        return
    hint = "not an Ubuntu host (apt install software-properties-common)?"
    yield from run_command(
        Manager(op, "add-apt-repository", hint),
        StringCommand(
            "add-apt-repository", "-y", *([] if present else ["--remove"]), QuoteString(src)
        ),
        facts=(AptSources,),
    )


def _words(value: list[str] | str | None) -> list[str]:
    if value is None:
        return []
    return value.split() if isinstance(value, str) else [str(v) for v in value]


@operation()
def sources_file(
    filename: str,
    types: list[str] | str = "deb",
    uris: list[str] | str | None = None,
    suites: list[str] | str | None = None,
    components: list[str] | str | None = None,
    architectures: list[str] | str | None = None,
    signed_by: str | None = None,
    present: bool = True,
) -> Commands:
    """Write or remove the deb822 file ``/etc/apt/sources.list.d/<filename>.sources``.

    Multi-value fields take a list or a space-separated string. When every repository
    the file describes is already configured (in any source file), nothing is written.
    """
    op = "apt.sources_file"
    if not filename or "/" in filename or filename.endswith(".sources"):
        raise fail(op, f"filename must be a bare name (no .sources, no /), got {filename!r}")
    path = f"{SOURCES_DIR}/{filename}.sources"
    if not present:
        if not host.get_fact(File, path=path):
            host.noop(f"{path} does not exist")
            return
        _check_root(op)
        yield StringCommand("rm", "-f", QuoteString(path))
        yield FactChange(paths=(path,), facts=(AptSources,))
        return
    entry = AptSourcesFile(
        types=_words(types),
        uris=_words(uris),
        suites=_words(suites),
        components=_words(components),
        architectures=_words(architectures) or None,
        signed_by=[signed_by] if signed_by else None,
    )
    if not entry.types or not entry.uris or not entry.suites:
        raise fail(op, "types, uris and suites must each have at least one value")
    for kind in entry.types:
        if kind not in ("deb", "deb-src"):
            raise fail(op, f"types must be deb or deb-src, got {kind!r}")
    sources: list[AptRepo] = host.get_fact(AptSources)
    repos = entry.expand_to_repos()
    if all(any(_same_repo(r, s) for s in sources) for r in repos):
        host.noop(f"apt sources file {path} is already configured")
        return
    lines = [
        f"Types: {' '.join(entry.types)}",
        f"URIs: {' '.join(entry.uris)}",
        f"Suites: {' '.join(entry.suites)}",
    ]
    if entry.components:
        lines.append(f"Components: {' '.join(entry.components)}")
    if entry.architectures:
        lines.append(f"Architectures: {' '.join(entry.architectures)}")
    if signed_by:
        lines.append(f"Signed-By: {signed_by}")
    _check_root(op)
    yield FileUploadCommand(io.BytesIO(("\n".join(lines) + "\n").encode()), path)
    others = [s for s in sources if s not in repos]
    yield FactChange(paths=(path,), known=((AptSources, {}, [*others, *repos]),))
