"""uv: Python packages (``uv pip``), tools (``uv tool``), Python versions and venvs."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Literal

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.files import File
from pyinfra.facts.server import Command
from pyinfra.facts.uv import (
    UvInstalledPythonsByImplementation,
    UvInstalledPythonsByVersion,
    UvPipPackages,
    UvTools,
)
from pyinfra.operations._packaging import (
    Manager,
    ensure_packages,
    extra_args,
    package_list,
    packages_command,
    probe,
    quoted,
    run_command,
)
from pyinfra.operations.pip import canonical_name, requirement_specs
from pyinfra.operations.util import check_path, fail

Commands = Generator[Any, Any, None]
HINT = "is uv installed (pip install uv)?"


def _uv(*bits: Any) -> StringCommand:
    return StringCommand("uv", *bits)


def _manager(op: str, group: str, extra: list[str]) -> Manager:
    return Manager(
        op=op,
        tool="uv",
        hint=HINT,
        install=packages_command("uv", *group.split(), "install", *extra),
        remove=packages_command("uv", *group.split(), "uninstall", *extra),
        upgrade=(
            packages_command("uv", "pip", "install", "--upgrade", *extra)
            if group == "pip"
            else packages_command("uv", "tool", "upgrade", *extra)
        ),
        needs_root=False,
        canonical=canonical_name,
    )


@operation()
def packages(
    packages: str | list[str],
    *,
    requirements: str | None = None,
    present: bool = True,
    latest: bool = False,
    extra_args: str | list[str] | None = None,
) -> Commands:
    """Install, upgrade (``latest``) or uninstall packages with ``uv pip`` (in the
    environment uv picks: an active venv, ``.venv``, or ``--system`` via ``extra_args``);
    ``requirements``: a requirements file on the host to install."""
    op = "uv.packages"
    specs = requirement_specs(op, packages, present, latest)
    extra = _extra(extra_args)
    manager = _manager(op, "pip", extra)
    if requirements:
        verb = "install" if present else "uninstall"
        yield from run_command(
            manager, _uv("pip", verb, *extra, "-r", QuoteString(requirements)), (UvPipPackages,)
        )
    yield from ensure_packages(manager, UvPipPackages, specs, present, latest)


def _extra(value: str | list[str] | None) -> list[str]:
    return extra_args(value)


@operation()
def tools(
    tools: str | list[str],
    *,
    present: bool = True,
    latest: bool = False,
    extra_args: str | list[str] | None = None,
) -> Commands:
    """Install, upgrade (``latest``) or uninstall tools with ``uv tool``."""
    op = "uv.tools"
    specs = requirement_specs(op, tools, present, latest, "tools")
    yield from ensure_packages(
        _manager(op, "tool", _extra(extra_args)), UvTools, specs, present, latest
    )


@operation()
def tools_upgrade_all(*, extra_args: str | list[str] | None = None) -> Commands:
    """``uv tool upgrade --all``."""
    yield from run_command(
        _manager("uv.tools_upgrade_all", "tool", []),
        _uv("tool", "upgrade", "--all", *_extra(extra_args)),
        (UvTools,),
    )


@operation()
def tools_update_shell() -> Commands:
    """``uv tool update-shell``, unless uv's tool bin directory is on the ``PATH``."""
    found = host.get_fact(Command, command='uv tool dir --bin 2>/dev/null; echo "$PATH"')
    lines = (found or "").splitlines()
    if len(lines) == 2 and lines[0] in lines[1].split(":"):
        host.noop(f"{lines[0]} is on the PATH")
        return
    yield from run_command(
        _manager("uv.tools_update_shell", "tool", []), _uv("tool", "update-shell")
    )


@operation()
def pythons(
    versions: str | list[str],
    *,
    present: bool = True,
    managed: bool = True,
    extra_args: str | list[str] | None = None,
) -> Commands:
    """Install or uninstall Python versions (``3.12``, ``pypy@3.10``...) with
    ``uv python``; ``managed``: only count uv-managed Pythons as installed."""
    op = "uv.pythons"
    wanted = package_list(op, versions, "versions")
    installed = host.get_fact(UvInstalledPythonsByVersion, is_managed=managed)
    keys = host.get_fact(UvInstalledPythonsByImplementation, is_managed=managed)

    def have(request: str) -> bool:
        bare = request.split("@")[-1]
        return any(v == bare or v.startswith(bare + ".") for v in installed) or any(
            k.startswith(request) for k in keys
        )

    todo = [v for v in wanted if have(v) != present]
    for version in wanted:
        if version not in todo:
            host.noop(f"Python {version} is {'' if present else 'not '}installed")
    if todo:
        yield from run_command(
            _manager(op, "python", []),
            _uv(
                "python", "install" if present else "uninstall", *_extra(extra_args), *quoted(todo)
            ),
            (UvInstalledPythonsByVersion, UvInstalledPythonsByImplementation),
        )


@operation()
def venv(
    path: str,
    *,
    present: bool = True,
    python: str | None = None,
    allow_existing: bool = False,
    clear_existing: bool = False,
    link_mode: Literal["clone", "copy", "hardlink", "symlink"] | None = None,
    seed: bool = False,
    site_packages: bool = False,
    extra_args: str | list[str] | None = None,
) -> Commands:
    """Create (``uv venv``) or remove a virtualenv; it exists when ``PATH/pyvenv.cfg``
    does (``clear_existing`` recreates it every time)."""
    op = "uv.venv"
    check_path(op, path)
    if link_mode not in (None, "clone", "copy", "hardlink", "symlink"):
        raise fail(op, f"link_mode must be clone, copy, hardlink or symlink, got {link_mode!r}")
    config = f"{path.rstrip('/')}/pyvenv.cfg"
    exists = bool(host.get_fact(File, path=config))
    if not present:
        if not exists:
            host.noop(f"venv {path} does not exist")
            return
        yield StringCommand("rm", "-rf", "--", QuoteString(path))
        yield FactChange(paths=(path,), recursive=True)
        return
    if exists and not clear_existing:
        host.noop(f"venv {path} exists")
        return
    probe(_manager(op, "venv", []))
    yield _uv(
        "venv",
        *(["--python", QuoteString(python)] if python else []),
        *(["--allow-existing"] if allow_existing else []),
        *(["--clear"] if clear_existing else []),
        *(["--link-mode", link_mode] if link_mode else []),
        *(["--seed"] if seed else []),
        *(["--system-site-packages"] if site_packages else []),
        *_extra(extra_args),
        QuoteString(path),
    )
    yield FactChange(paths=(path, config), recursive=True)
