"""pip: Python packages (system, user or in a virtualenv) and virtualenvs.

Installs are dry-run first (``pip install --dry-run``, pip 22.2+) in the same read that
checks that the pip exists: pip's own error for an unknown package or version comes
before anything changes, ``latest`` and ``requirements`` change something only when pip
would install something, and the installed versions update ``pip.PipPackages``.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.files import Directory, File
from pyinfra.facts.pip import PipPackages
from pyinfra.operations._packaging import (
    Changes,
    Manager,
    Spec,
    Unsimulated,
    apply_changes,
    check_conflicts,
    extra_args,
    package_list,
    probe,
    quoted,
)
from pyinfra.operations.util import check_path, fail

Commands = Generator[Any, Any, None]
Made = Generator[Any, Any, bool]
# pip programs a virtualenv creation of the current operation made (for --dry runs).
_created: dict[tuple[str, str], bool] = {}

# name[extras] followed by an optional version specifier (PEP 508, without markers)
_REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[A-Za-z0-9._,-]+\])?"
    r"(?P<spec>(?:\s*(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*,?)*)$"
)
_WOULD_INSTALL = "Would install "
_NO_DRY_RUN = "no such option: --dry-run"


def canonical_name(name: str) -> str:
    """PEP 503 normalised name: ``Typing_Extensions`` -> ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_spec(op: str, raw: str) -> tuple[Spec, bool]:
    """``(Spec, exact)``: the pinned version for ``name==X``; ``exact`` is False when the
    requirement has other specifiers (``>=``...) that only pip can evaluate."""
    match = _REQUIREMENT.match(raw)
    if match is None:
        raise fail(op, f"invalid requirement {raw!r} (expected name, name==1.0, name>=1.0...)")
    name, spec = match.group("name"), match.group("spec").strip()
    if not spec:
        return Spec(raw, name, None), True
    pinned = re.fullmatch(r"==\s*([A-Za-z0-9.+!_-]+)", spec)
    if pinned:
        return Spec(raw, name, pinned.group(1)), True
    return Spec(raw, name, None), False


def requirement_specs(
    op: str,
    packages: str | list[str] | None,
    present: bool,
    latest: bool,
    argument: str = "packages",
) -> list[Spec]:
    """The checked ``packages`` argument of a Python package operation (pipx, uv) as
    specs (``name==version`` pins; other specifiers are left to the installer)."""
    check_conflicts(op, present, latest)
    return [parse_spec(op, raw)[0] for raw in package_list(op, packages, argument)]


def parse_pip_dry_run(lines: list[str]) -> Changes:
    """``Would install six-1.17.0 toml-0.10.2`` -> ``{"six": "1.17.0", "toml": "0.10.2"}``."""
    changes: Changes = {}
    for line in lines:
        if line.startswith(_WOULD_INSTALL):
            for item in line[len(_WOULD_INSTALL) :].split():
                name, _, version = item.rpartition("-")
                if name:
                    changes[name] = version
    return changes


def _pip_error(lines: list[str]) -> str:
    errors = [line.strip() for line in lines if line.strip().startswith("ERROR:")]
    if errors:
        return errors[-1]
    texts = [line.strip() for line in lines if line.strip()]
    return texts[-1] if texts else "pip failed"


def _manager(op: str, pip: str) -> Manager:
    def install(args: list[str]) -> StringCommand:
        return StringCommand(QuoteString(pip), "install", *args)

    def remove(args: list[str]) -> StringCommand:
        return StringCommand(QuoteString(pip), "uninstall", "--yes", *args)

    return Manager(
        op=op,
        tool=pip,
        hint="is pip installed (apt install python3-pip) and the path right?",
        install=install,
        remove=remove,
        needs_root=False,
        canonical=canonical_name,
        error_line=_pip_error,
    )


def _install(
    manager: Manager,
    args: list[Any],
    current: dict[str, set[str]],
    pip: str,
    token: Any,
    what: str,
) -> Commands:
    """Dry-run ``pip install ARGS``; install only when pip would install something."""
    simulate = StringCommand(manager.install(args), "--dry-run", "--no-warn-conflicts")
    lines = probe_pip(manager, simulate, token)
    if lines is None:  # a pip without --dry-run: install and re-read afterwards
        yield manager.install(args)
        yield FactChange(facts=(PipPackages,))
        return
    changes = parse_pip_dry_run(lines)
    if not changes:
        host.noop(f"{what}: pip has nothing to install")
        return
    yield manager.install(args)
    installed = {canonical_name(n): n for n in current}
    renamed = {installed.get(canonical_name(n), n): v for n, v in changes.items()}
    yield FactChange(known=((PipPackages, {"pip": pip}, apply_changes(current, renamed)),))


def probe_pip(manager: Manager, simulate: StringCommand, token: Any) -> list[str] | None:
    """The dry run's output lines, or None when this pip has no ``--dry-run`` (or, in a
    ``--dry`` run, does not exist yet)."""
    try:
        made = _created.get((host.name, manager.tool), False)
        return probe(manager, simulate, token, created_in_dry_run=made)
    except Unsimulated:
        return None
    except OperationValueError as exc:
        if _NO_DRY_RUN in str(exc):
            return None
        raise


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    requirements: str | None = None,
    pip: str = "pip",
    virtualenv: str | None = None,
    virtualenv_kwargs: dict[str, Any] | None = None,
    extra_install_args: str | None = None,
) -> Commands:
    """Install, upgrade (``latest``) or remove pip packages; ``name==version`` pins and
    other specifiers (``name>=1.2``) work as pip reads them.

    ``virtualenv``: work in that virtualenv (created first with ``pip.virtualenv`` and
    ``virtualenv_kwargs`` when missing; ``pip`` is then relative to its ``bin``).
    ``requirements``: a requirements file on the host to install (or uninstall).
    """
    op = "pip.packages"
    check_conflicts(op, present, latest)
    specs = [parse_spec(op, raw) for raw in package_list(op, packages)]
    if virtualenv:
        check_path(op, virtualenv, "virtualenv")
        made = yield from _virtualenv(op, virtualenv, present=True, **(virtualenv_kwargs or {}))
        pip = f"{virtualenv.rstrip('/')}/bin/{pip}"
        _created[(host.name, pip)] = bool(made)
    manager = _manager(op, pip)
    extra = extra_args(extra_install_args)
    current: dict[str, set[str]] = host.get_fact(PipPackages, pip=pip)
    installed = {canonical_name(n): (n, v) for n, v in current.items()}
    token = sorted(current.items(), key=str)

    if requirements:
        if present:
            args = [*(["--upgrade"] if latest else []), "-r", QuoteString(requirements), *extra]
            yield from _install(manager, args, current, pip, (token, "r"), requirements)
        else:
            yield manager.remove(["-r", QuoteString(requirements)])
            yield FactChange(facts=(PipPackages,))

    if not present:
        gone = [
            s
            for s, _ in specs
            if canonical_name(s.name) in installed
            and (s.version is None or s.version in installed[canonical_name(s.name)][1])
        ]
        for spec, _ in specs:
            if spec not in gone:
                host.noop(f"package {spec.raw} is not installed")
        if gone:
            probe(manager, created_in_dry_run=_created.get((host.name, pip), False))
            names = [installed[canonical_name(s.name)][0] for s in gone]
            yield manager.remove(quoted(names))
            state = apply_changes(current, {n: None for n in names})
            yield FactChange(known=((PipPackages, {"pip": pip}, state),))
        return

    wanted: list[str] = []
    for spec, exact in specs:
        have = installed.get(canonical_name(spec.name))
        if have is None or not exact or latest and spec.version is None:
            wanted.append(spec.raw)
        elif spec.version is not None and spec.version not in have[1]:
            wanted.append(spec.raw)
        else:
            host.noop(f"package {spec.name} is installed ({', '.join(sorted(have[1]))})")
    if wanted:
        args = [*(["--upgrade"] if latest else []), *quoted(wanted), *extra]
        yield from _install(manager, args, current, pip, (token, wanted), ", ".join(wanted))


def _virtualenv(
    op: str,
    path: str,
    python: str | None = None,
    venv: bool = False,
    site_packages: bool = False,
    always_copy: bool = False,
    present: bool = True,
) -> Made:
    """The virtualenv steps; returns True when it yielded the creation."""
    check_path(op, path)
    activate = f"{path.rstrip('/')}/bin/activate"
    if not present:
        if host.get_fact(Directory, path=path) is None:
            host.noop(f"virtualenv {path} does not exist")
            return False
        yield StringCommand("rm", "-rf", "--", QuoteString(path))
        yield FactChange(paths=(path,), recursive=True, facts=(PipPackages,))
        return False
    if host.get_fact(File, path=activate):
        host.noop(f"virtualenv {path} exists")
        return False
    if venv:
        interpreter = python or "python3"
        command = StringCommand(
            QuoteString(interpreter), "-m", "venv",
            *(["--system-site-packages"] if site_packages else []),
            *(["--copies"] if always_copy else []),
            QuoteString(path),
        )  # fmt: skip
        tool, hint = interpreter, "is Python 3 installed (apt install python3-venv)?"
    else:
        command = StringCommand(
            "virtualenv",
            *(["-p", QuoteString(python)] if python else []),
            *(["--system-site-packages"] if site_packages else []),
            *(["--always-copy"] if always_copy else []),
            QuoteString(path),
        )
        tool, hint = "virtualenv", "is virtualenv installed (apt install virtualenv)?"
    probe(Manager(op, tool, hint, needs_root=False))
    yield command
    yield FactChange(paths=(path, activate), recursive=True, facts=(PipPackages,))
    return True


@operation()
def virtualenv(
    path: str,
    python: str | None = None,
    venv: bool = False,
    site_packages: bool = False,
    always_copy: bool = False,
    present: bool = True,
) -> Commands:
    """Create (``virtualenv``, or ``python -m venv`` with ``venv``) or remove a virtualenv.

    It counts as present when ``PATH/bin/activate`` exists.
    """
    yield from _virtualenv(
        "pip.virtualenv", path, python, venv, site_packages, always_copy, present
    )


@operation()
def venv(
    path: str,
    python: str | None = None,
    site_packages: bool = False,
    always_copy: bool = False,
    present: bool = True,
) -> Commands:
    """Create (``python3 -m venv``, or ``python`` given) or remove a virtualenv."""
    yield from _virtualenv("pip.venv", path, python, True, site_packages, always_copy, present)
