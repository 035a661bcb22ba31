"""What every package operation shares: argument checks, the install/remove plan, the
probe before a change and the package-list update after it.

The flow of ``<manager>.packages`` (see :func:`ensure_packages`):

1. read the installed-package fact once (cached for the run);
2. compare with the wanted packages: nothing to do -> ``host.noop`` and no command;
3. otherwise read one :class:`~pyinfra.facts._packages.ManagerProbe`: is the manager
   there, do we have the privileges, and (for managers that can dry-run) exactly which
   packages the change installs/upgrades/removes, or the manager's own error;
4. yield the changing command, then ``FactChange(known=...)`` with the new package list
   so the next package operation reads nothing.

The other operations of a manager use :func:`run_command` (an index update, a clean)
and :func:`upgrade_all` (upgrade everything, dry-run first); :func:`packages_command`,
:func:`versioned_install` and :func:`each` build a manager's commands.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.facts._packages import ManagerProbe, PackageVersions
from pyinfra.operations.util import fail

Commands = Generator[Any, Any, None]
# What a change does to the package list: name -> new version (None: removed).
Changes = dict[str, "str | None"]

_BAD_CHARS = re.compile(r"[\s\x00-\x1f]")


def package_list(
    op: str, packages: str | list[str] | None, argument: str = "packages"
) -> list[str]:
    """``packages`` as a list of non-empty names, in order, without duplicates."""
    if packages is None:
        return []
    items = [packages] if isinstance(packages, str) else list(packages)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise fail(op, f"argument {argument} must hold non-empty strings, got {item!r}")
        item = item.strip()
        if item.startswith("-"):
            raise fail(op, f"{item!r} is not a package name (it starts with '-')")
        if _BAD_CHARS.search(item):
            raise fail(op, f"{item!r} is not a valid package name (it contains whitespace)")
        if item not in out:
            out.append(item)
    return out


@dataclass(frozen=True)
class Spec:
    """One wanted package: as given (``raw``), its name and pinned version (or None)."""

    raw: str
    name: str
    version: str | None


def split_specs(
    op: str,
    packages: list[str],
    separator: str | None,
    version_pattern: re.Pattern[str] | None = None,
) -> list[Spec]:
    """Split ``name<separator>version`` specs; an empty or malformed version is refused."""
    specs = []
    for raw in packages:
        if separator and separator in raw:
            name, version = raw.split(separator, 1)
            if (
                not name
                or not version
                or (version_pattern is not None and not version_pattern.fullmatch(version))
            ):
                raise fail(op, f"invalid version spec {raw!r} (expected name{separator}VERSION)")
            specs.append(Spec(raw, name, version))
        else:
            specs.append(Spec(raw, raw, None))
    return specs


def check_conflicts(op: str, present: bool, latest: bool) -> None:
    if not present and latest:
        raise fail(op, "present=False and latest=True contradict each other: choose one")


def package_specs(
    op: str,
    packages: str | list[str] | None,
    present: bool = True,
    latest: bool = False,
    separator: str | None = None,
    version_pattern: re.Pattern[str] | None = None,
    argument: str = "packages",
) -> list[Spec]:
    """The checked arguments of a ``<manager>.packages`` operation as specs: no
    ``present=False`` with ``latest``, names as :func:`package_list` wants them, versions
    split off at ``separator`` as :func:`split_specs` does."""
    check_conflicts(op, present, latest)
    return split_specs(op, package_list(op, packages, argument), separator, version_pattern)


def no_command(_: list[Any]) -> StringCommand:
    """The command of a :class:`Manager` that is only probed (is the tool there?)."""
    return StringCommand("true")


def packages_command(*head: Any) -> Callable[[list[str]], StringCommand]:
    """A command builder: ``HEAD`` followed by the quoted package names."""
    return lambda args: StringCommand(*head, *quoted(args))


def each(
    args: list[str], build: Callable[[str], StringCommand], joiner: str = "&&"
) -> StringCommand:
    """One command per package (managers that take one name, or one version, at a
    time), joined by ``joiner``."""
    bits: list[Any] = []
    for arg in args:
        bits += [joiner, build(arg)] if bits else [build(arg)]
    return StringCommand(*bits)


def versioned_install(
    *head: Any, separator: str, joiner: str = "&&"
) -> Callable[[list[str]], StringCommand]:
    """A command builder for managers that install one package at a time and take its
    version as an option: ``HEAD NAME [--version VERSION]`` per ``NAME<separator>VERSION``
    spec, joined by ``joiner``."""

    def one(arg: str) -> StringCommand:
        name, _, version = arg.partition(separator)
        pinned = ["--version", QuoteString(version)] if version else []
        return StringCommand(*head, QuoteString(name), *pinned)

    return lambda args: each(args, one, joiner)


@dataclass
class Manager:
    """How one package manager is driven (commands, probes, names)."""

    op: str  # "apt.packages": the name errors start with
    tool: str  # the program that changes things ("apt-get")
    hint: str  # "not a Debian-family host?": ends "TOOL not found on HOST: HINT"
    # no_command: a manager only probed before a command of its own (an index update)
    install: Callable[[list[Any]], StringCommand] = no_command
    remove: Callable[[list[Any]], StringCommand] = no_command
    upgrade: Callable[[list[Any]], StringCommand] | None = None
    # Read-only dry runs of the commands above ("install"/"remove"/"upgrade" -> command)
    simulate: Callable[[str, list[str]], StringCommand | None] | None = None
    parse_simulation: Callable[[list[str]], Changes] | None = None
    needs_root: bool = True
    canonical: Callable[[str], str] = field(default=lambda name: name)
    # The line of a failed dry run that says why (the manager's own message).
    error_line: Callable[[list[str]], str] | None = None
    # Is a pinned version among the installed ones ("1.0" vs rpm's "1.0-1")?
    matches: Callable[[str, set[str]], bool] = field(default=lambda pinned, have: pinned in have)

    def installed(self, current: PackageVersions) -> dict[str, set[str]]:
        """The package list keyed by canonical name."""
        return {self.canonical(name): versions for name, versions in current.items()}


def _token(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def last_error_line(lines: list[str]) -> str:
    """The manager's message: the last line that looks like an error, else the last line."""
    texts = [line.strip() for line in lines if line.strip()]
    for line in reversed(texts):
        if re.match(r"^(E:|Error|ERROR|error:|No match|No provider|fatal)", line):
            return line
    return texts[-1] if texts else "failed"


def is_dry() -> bool:
    return bool(host.state is not None and host.state.dry)


def probe(
    manager: Manager,
    simulate: StringCommand | None = None,
    token: Any = None,
    created_in_dry_run: bool = False,
) -> list[str]:
    """Read the manager probe; raise the one-line error for a missing manager, missing
    privileges or a refused dry run; return the dry run's output lines.

    In a ``--dry`` run a refused simulation raises :class:`Unsimulated` instead: an
    earlier operation that only pretended to run (adding a repository) may be what
    the simulation lacks, so the caller predicts the change and notes the message.
    ``created_in_dry_run``: the tool itself is made by an earlier step of this dry run
    (a virtualenv's pip), so its absence is expected."""
    result = host.get_fact(
        ManagerProbe,
        tool=manager.tool,
        simulate=simulate.get_raw_value() if simulate is not None else "",
        needs_root=manager.needs_root,
        token=_token(token),
    )
    if result["status"] == "missing":
        if created_in_dry_run and is_dry():  # an earlier step only pretended to make it
            raise Unsimulated(f"{manager.tool} does not exist yet")
        raise fail(manager.op, f"{manager.tool} not found on {host.name}: {manager.hint}")
    if result["status"] == "not_root":
        raise fail(manager.op, "permission denied: add _sudo=True")
    lines: list[str] = result["lines"]
    if result["exit_code"] != 0:
        error = (manager.error_line or last_error_line)(lines)
        if simulate is not None and is_dry():
            host.noop(f"dry run: the manager's own dry run says {error!r}")
            raise Unsimulated(error)
        raise fail(manager.op, error)
    return lines


class Unsimulated(Exception):
    """A dry run of the manager failed during ``--dry``: predict instead."""


def run_command(
    manager: Manager, command: StringCommand, facts: tuple[type[Any], ...] = ()
) -> Commands:
    """``command`` (an index update, a clean...) after the probe; ``facts`` are what it
    makes stale."""
    probe(manager)
    yield command
    yield FactChange(facts=facts)


def upgrade_all(
    manager: Manager,
    fact: type[Any],
    command: StringCommand,
    simulate: StringCommand,
    parse: Callable[[list[str]], Changes],
    nothing: str,
    also_drop: tuple[type[Any], ...] = (),
) -> Commands:
    """Upgrade everything with ``command`` when its dry run ``simulate`` (read in the
    probe) says something would change; the package list ``fact`` then becomes what the
    dry run said. ``nothing``: the no-op message. A dry run that fails in ``--dry``
    drops the package list instead (the next reader asks the manager)."""
    try:
        changes = parse(probe(manager, simulate, ("upgrade-all", simulate.get_raw_value())))
    except Unsimulated:
        yield command
        yield FactChange(facts=(fact, *also_drop))
        return
    if not changes:
        host.noop(nothing)
        return
    current: PackageVersions = host.get_fact(fact)
    yield command
    yield FactChange(facts=also_drop, known=((fact, {}, apply_changes(current, changes)),))


def apply_changes(current: PackageVersions, changes: Changes) -> PackageVersions:
    """A new package list: ``current`` with ``changes`` applied."""
    new = {name: set(versions) for name, versions in current.items()}
    for name, version in changes.items():
        if version is None:
            new.pop(name, None)
        else:
            new[name] = {version}
    return new


def predicted_changes(specs: Iterable[Spec], present: bool, placeholder: str = "") -> Changes:
    """Changes assumed when the manager cannot dry-run: the wanted packages at their
    pinned version (``placeholder`` when unpinned), or gone."""
    return {s.name: (s.version or placeholder) if present else None for s in specs}


@dataclass
class Plan:
    install: list[Spec] = field(default_factory=list)  # missing (or at another version)
    upgrade: list[Spec] = field(default_factory=list)  # installed, latest wanted
    remove: list[Spec] = field(default_factory=list)


def plan_packages(
    manager: Manager,
    specs: list[Spec],
    current: PackageVersions,
    present: bool,
    latest: bool,
) -> Plan:
    """Which specs need installing, upgrading (``latest``) or removing; records a
    ``host.noop`` for every package already as wanted."""
    installed = manager.installed(current)
    plan = Plan()
    for spec in specs:
        versions = installed.get(manager.canonical(spec.name))
        shown = ", ".join(sorted(versions or ()))
        if present:
            if versions is None or (
                spec.version is not None and not manager.matches(spec.version, versions)
            ):
                plan.install.append(spec)
            elif latest and spec.version is None:
                plan.upgrade.append(spec)
            else:
                host.noop(f"package {spec.name} is installed ({shown})")
        elif versions is not None and (
            spec.version is None or manager.matches(spec.version, versions)
        ):
            plan.remove.append(spec)
        else:
            host.noop(f"package {spec.raw} is not installed")
    return plan


def ensure_packages(
    manager: Manager,
    fact: type[Any],
    specs: list[Spec],
    present: bool,
    latest: bool,
    fact_kwargs: dict[str, Any] | None = None,
    also_drop: tuple[type[Any], ...] = (),
) -> Commands:
    """Install/upgrade/remove ``specs`` with ``manager`` (the steps in the module doc)."""
    fact_kwargs = dict(fact_kwargs or {})
    current: PackageVersions = host.get_fact(fact, **fact_kwargs)
    plan = plan_packages(manager, specs, current, present, latest)
    steps: list[tuple[str, list[Spec], Callable[[list[Any]], StringCommand]]] = []
    if plan.remove:
        steps.append(("remove", plan.remove, manager.remove))
    if plan.install:
        steps.append(("install", plan.install, manager.install))
    if plan.upgrade:
        if manager.upgrade is None:  # the install command also upgrades (apt, pacman...)
            steps.append(("upgrade", plan.upgrade, manager.install))
        else:
            steps.append(("upgrade", plan.upgrade, manager.upgrade))
    state = current
    for kind, chosen, build in steps:
        args = [s.raw if kind != "remove" else s.name for s in chosen]
        simulation = manager.simulate(kind, args) if manager.simulate else None
        try:
            lines = probe(manager, simulation, (kind, args, sorted(state.items(), key=str)))
        except Unsimulated:
            simulation = None
        if simulation is not None and manager.parse_simulation is not None:
            changes = manager.parse_simulation(lines)
            if not changes:
                for spec in chosen:
                    host.noop(
                        f"package {spec.name} is already the latest version"
                        if kind == "upgrade"
                        else f"package {spec.raw}: nothing to do"
                    )
                continue
            yield build(args)
            state = apply_changes(state, changes)
            yield FactChange(facts=also_drop, known=((fact, fact_kwargs, state),))
        else:
            yield build(args)
            state = apply_changes(state, predicted_changes(chosen, kind != "remove"))
            if kind == "remove" or all(s.version for s in chosen):
                yield FactChange(facts=also_drop, known=((fact, fact_kwargs, state),))
            else:  # versions unknown: the next reader asks the manager again
                yield FactChange(facts=(fact, *also_drop), expect=((fact, fact_kwargs, state),))


def quoted(items: Iterable[str]) -> list[QuoteString]:
    return [QuoteString(item) for item in items]


def extra_args(value: str | list[str] | None) -> list[str]:
    """User-given extra arguments, passed as written (they are shell words by design)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    return [str(v) for v in value]
