"""What dnf, yum and zypper share: the operations of their modules take the same
arguments, so each is written once here and bound to a tool (private).

dnf and yum changes are dry-run first (``--assumeno``: the transaction table gives the
exact packages and versions, "Error: ..." the manager's refusal); zypper's with
``--xmlout ... --dry-run``.
"""

from __future__ import annotations

import html
import io
import posixpath
import re
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import FileUploadCommand, QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.facts.files import FileBytes
from pyinfra.facts.rpm import RpmPackage, RpmPackages
from pyinfra.operations._packaging import (
    Changes,
    Manager,
    Unsimulated,
    apply_changes,
    ensure_packages,
    extra_args,
    package_specs,
    probe,
    quoted,
    run_command,
    upgrade_all,
)
from pyinfra.operations._pkgfiles import download, is_url, package_file
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]
HINT = "not a Red Hat-family host?"
ZYPPER_HINT = "not a SUSE host?"
_VERSION = re.compile(r"[A-Za-z0-9._+~:^-]+")
_REMOVING = ("Removing", "Erasing", "Obsoleting")


def version_matches(pinned: str, versions: set[str]) -> bool:
    """``1.0`` matches an installed ``1.0-1`` (version-release) as well as ``1.0-1``."""
    return any(v == pinned or v.startswith(pinned + "-") for v in versions)


def parse_transaction(lines: list[str]) -> Changes:
    """The packages of a dnf/yum transaction table (``--assumeno`` output)."""
    changes: Changes = {}
    section: str | None = None
    for line in lines:
        if not line.strip():
            continue
        if not line[0].isspace():
            section = line.strip()[:-1] if line.strip().endswith(":") else None
            continue
        if section is None:
            continue
        parts = line.split()
        if len(parts) >= 4 and not parts[0].startswith("replacing"):
            name, version = parts[0], parts[2]
            changes[name] = None if section.startswith(_REMOVING) else version.split(":")[-1]
    return changes


def transaction_error(lines: list[str]) -> str:
    for line in lines:
        text = line.strip()
        if text.startswith(("Error:", "No match for argument", "No package")):
            return text
    texts = [line.strip() for line in lines if line.strip()]
    return texts[-1] if texts else "failed"


def _is_refusal(lines: list[str]) -> bool:
    return any(line.strip().startswith("Error:") for line in lines)


def dnf_manager(
    op: str, tool: str, install_options: list[str], remove_options: list[str]
) -> Manager:
    def pinned(args: list[str]) -> list[QuoteString]:
        return quoted(a.replace("=", "-", 1) for a in args)

    def install(args: list[str]) -> StringCommand:
        return StringCommand(tool, "install", "-y", *install_options, *pinned(args))

    def remove(args: list[str]) -> StringCommand:
        return StringCommand(tool, "remove", "-y", *remove_options, *quoted(args))

    def upgrade(args: list[str]) -> StringCommand:
        verb = "upgrade" if tool == "dnf" else "update"
        return StringCommand(tool, verb, "-y", *install_options, *quoted(args))

    def simulate(kind: str, args: list[str]) -> StringCommand:
        command = {"install": install, "remove": remove, "upgrade": upgrade}[kind](args)
        bits = [b for b in command.bits if b != "-y"]
        # --assumeno ends with "Operation aborted." (exit 1) after printing the table.
        return StringCommand(*bits, "--assumeno", ";", "[", "$?", "-le", "1", "]")

    return Manager(
        op=op,
        tool=tool,
        hint=HINT,
        install=install,
        remove=remove,
        upgrade=upgrade,
        simulate=simulate,
        parse_simulation=_refusing(parse_transaction, op),
        error_line=transaction_error,
        matches=version_matches,
    )


def _refusing(parse: Any, op: str) -> Any:
    def checked(lines: list[str]) -> Changes:
        if _is_refusal(lines):
            if host.state is not None and host.state.dry:
                host.noop(f"dry run: {transaction_error(lines)}")
                raise Unsimulated(transaction_error(lines))
            raise fail(op, transaction_error(lines))
        changes: Changes = parse(lines)
        return changes

    return checked


def dnf_packages(
    module: str,
    packages: str | list[str] | None,
    present: bool,
    latest: bool,
    update: bool,
    clean: bool,
    nobest: bool,
    extra_install_args: str | None,
    extra_uninstall_args: str | None,
) -> Commands:
    op = f"{module}.packages"
    specs = package_specs(op, packages, present, latest, "=", _VERSION)
    install_options = (["--nobest"] if nobest else []) + extra_args(extra_install_args)
    manager = dnf_manager(op, module, install_options, extra_args(extra_uninstall_args))
    if clean:
        yield from run_command(manager, StringCommand(module, "clean", "all"))
    if update:
        yield from dnf_update(op, module)
    yield from ensure_packages(
        manager, RpmPackages, specs, present, latest, also_drop=(RpmPackage,)
    )


def dnf_update(op: str, tool: str) -> Commands:
    manager = dnf_manager(op, tool, [], [])
    assert manager.parse_simulation is not None
    yield from upgrade_all(
        manager,
        RpmPackages,
        command=StringCommand(tool, "update" if tool == "yum" else "upgrade", "-y"),
        simulate=StringCommand(tool, "upgrade", "--assumeno", ";", "[", "$?", "-le", "1", "]"),
        parse=manager.parse_simulation,
        nothing=f"{tool}: nothing to update",
        also_drop=(RpmPackage,),
    )


def zypper_update(op: str) -> Commands:
    yield from upgrade_all(
        zypper_manager(op, [], [], [], []),
        RpmPackages,
        command=StringCommand("zypper", "--non-interactive", "update"),
        simulate=zypper_command("update", [], [], [], dry=True),
        parse=parse_zypper_xml,
        nothing="zypper: nothing to update",
        also_drop=(RpmPackage,),
    )


# zypper --------------------------------------------------------------------------------

_XML_SECTION = re.compile(r"<to-(install|upgrade|downgrade|reinstall|remove)\b")
_XML_SOLVABLE = re.compile(r'<solvable\b[^>]*\bname="([^"]+)"[^>]*\bedition="([^"]+)"')
_XML_ERROR = re.compile(r'<message type="error">(.*?)</message>')


def parse_zypper_xml(lines: list[str]) -> Changes:
    """Packages of ``zypper --xmlout ... --dry-run``: ``<to-install>`` etc. sections."""
    changes: Changes = {}
    section: str | None = None
    for line in lines:
        match = _XML_SECTION.search(line)
        if match:
            section = match.group(1)
        if "</to-" in line and _XML_SOLVABLE.search(line) is None:
            section = None
        solvable = _XML_SOLVABLE.search(line)
        if solvable and section:
            name, edition = html.unescape(solvable.group(1)), html.unescape(solvable.group(2))
            changes[name] = None if section == "remove" else edition.split(":")[-1]
    return changes


def zypper_error(lines: list[str]) -> str:
    for line in lines:
        match = _XML_ERROR.search(line)
        if match:
            return html.unescape(match.group(1)).strip()
    texts = [line.strip() for line in lines if line.strip()]
    return texts[-1] if texts else "zypper failed"


def zypper_command(
    verb: str, global_args: list[str], options: list[str], args: list[str], dry: bool = False
) -> StringCommand:
    """``zypper --non-interactive [GLOBAL] VERB [OPTIONS] ARGS``; ``dry``: the XML dry run
    (options must come before the package names)."""
    head = ["zypper", "--xmlout"] if dry else ["zypper"]
    return StringCommand(
        *head, "--non-interactive", *global_args, verb, *(["--dry-run"] if dry else []),
        *options, *quoted(args),
    )  # fmt: skip


def zypper_manager(
    op: str,
    global_install: list[str],
    install_options: list[str],
    global_remove: list[str],
    remove_options: list[str],
) -> Manager:
    verbs = {
        "install": ("install", global_install, install_options),
        "remove": ("remove", global_remove, remove_options),
        "upgrade": ("update", global_install, install_options),
    }

    def build(kind: str, dry: bool = False) -> Any:
        verb, global_args, options = verbs[kind]
        return lambda args: zypper_command(verb, global_args, options, args, dry)

    def simulate(kind: str, args: list[str]) -> StringCommand:
        command: StringCommand = build(kind, dry=True)(args)
        return command

    install, remove, upgrade = build("install"), build("remove"), build("upgrade")

    return Manager(
        op=op,
        tool="zypper",
        hint=ZYPPER_HINT,
        install=install,
        remove=remove,
        upgrade=upgrade,
        simulate=simulate,
        parse_simulation=parse_zypper_xml,
        error_line=zypper_error,
        matches=version_matches,
    )


# Shared by dnf, yum and zypper: .repo files, .rpm files, keys -------------------------


def repo_file(
    op: str,
    manager: Manager,
    directory: str,
    src: str,
    present: bool,
    baseurl: str | None,
    description: str | None,
    enabled: bool,
    gpgcheck: bool,
    gpgkey: str | None,
    repo_type: str | None = None,
    facts: tuple[type[Any], ...] = (),
) -> Commands:
    """Write (or remove) ``DIRECTORY/<name>.repo``: downloaded when ``src`` is a URL,
    else made from ``baseurl`` and the other fields (section ``[src]``)."""
    if not isinstance(src, str) or not src.strip() or "\n" in src:
        raise fail(op, f"argument src must be a repository name or URL, got {src!r}")
    if is_url(src):
        name = posixpath.basename(src.split("?", 1)[0])
        name = name if name.endswith(".repo") else name + ".repo"
    else:
        name = re.sub(r"[^A-Za-z0-9_.:-]+", "-", src) + ".repo"
    path = f"{directory}/{name}"
    current = host.get_fact(FileBytes, path=path)
    if not present:
        if current is None:
            host.noop(f"repository file {path} does not exist")
            return
        probe(manager)
        yield StringCommand("rm", "-f", QuoteString(path))
        yield FactChange(paths=(path,), facts=facts)
        return
    if is_url(src):
        if current is not None:
            host.noop(f"repository file {path} exists")
            return
        probe(manager)
        yield StringCommand("mkdir", "-p", QuoteString(directory), "&&", download(src, path))
        yield FactChange(paths=(path,), facts=facts)
        return
    if not baseurl:
        raise fail(op, "baseurl is required when src is a repository name (not a URL)")
    lines = [f"[{src}]", f"name={description or src}", f"baseurl={baseurl}"]
    lines += [f"enabled={1 if enabled else 0}", f"gpgcheck={1 if gpgcheck else 0}"]
    if gpgkey:
        lines.append(f"gpgkey={gpgkey}")
    if repo_type:
        lines.append(f"type={repo_type}")
    content = ("\n".join(lines) + "\n").encode()
    if current == content:
        host.noop(f"repository file {path} is up to date")
        return
    probe(manager)
    if current is None:
        yield StringCommand("mkdir", "-p", QuoteString(directory))
    yield FileUploadCommand(io.BytesIO(content), path)
    yield FactChange(paths=(path,), facts=facts, known=((FileBytes, {"path": path}, content),))


def rpm_file(op: str, manager: Manager, src: str, present: bool) -> Commands:
    """Install (with its dependencies) or remove the package of an ``.rpm`` file."""
    path = yield from package_file(op, src, ".rpm", RpmPackage, "an .rpm file")
    info = host.get_fact(RpmPackage, package=path)
    if info is None:
        if not present:
            host.noop(f"{src} is not available: nothing to remove")
            return
        raise fail(op, f"{src} is not a readable .rpm file on {host.name}")
    name, version = info["name"], info["version"]
    current = host.get_fact(RpmPackages)
    installed = current.get(name, set())
    if present:
        if version in installed:
            host.noop(f"package {name} {version} is installed")
            return
        probe(manager)
        yield manager.install([path if path.startswith("/") else "./" + path])
        yield FactChange(known=((RpmPackages, {}, apply_changes(current, {name: version})),))
        return
    if not installed:
        host.noop(f"package {name} is not installed")
        return
    probe(manager)
    yield manager.remove([name])
    yield FactChange(known=((RpmPackages, {}, apply_changes(current, {name: None})),))


def rpm_key(op: str, manager: Manager, src: str) -> Commands:
    """``rpm --import`` a key (file or URL) unless rpm already has it."""
    from pyinfra.facts.rpm import RpmKeyImported

    if not isinstance(src, str) or not src.strip():
        raise fail(op, f"argument src must be a key file or URL, got {src!r}")
    if not is_url(src) and host.get_fact(RpmKeyImported, src=src):
        host.noop(f"rpm already has the key in {src}")
        return
    probe(manager)
    yield StringCommand("rpm", "--import", QuoteString(src))
    yield FactChange(facts=(RpmKeyImported,))
