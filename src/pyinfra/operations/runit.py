"""Manage runit services: supervise them (a link in SVDIR), start them at boot or not
(the ``down`` file), start/stop/restart/reload them (``sv``)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.files import File
from pyinfra.facts.runit import RunitManaged, RunitStatus
from pyinfra.operations.files import file, link
from pyinfra.operations.nested import inner
from pyinfra.operations.servicectl import check_service_name, ensure_service
from pyinfra.operations.util import check_path, fail

Commands = Generator[Any, Any, None]

__all__ = ["auto", "file", "link", "manage", "service", "wait_runsv"]


def _check(op: str, service: str, **paths: str) -> None:
    check_service_name(op, service)
    for argument, value in paths.items():
        check_path(op, value, argument)


@operation()
def service(
    service: str,
    running: bool = True,
    restarted: bool = False,
    reloaded: bool = False,
    command: str | None = None,
    enabled: bool | None = None,
    managed: bool = True,
    svdir: str = "/var/service",
    sourcedir: str = "/etc/sv",
) -> Commands:
    """Supervise, start/stop/restart/reload a runit service.

    + service: its directory's name in ``sourcedir``
    + running / restarted / reloaded / command: as in ``systemd.service`` (``sv``)
    + enabled: whether it starts automatically (no ``sourcedir/NAME/down`` file);
      ``None`` keeps what it was
    + managed: whether runit supervises it (the link ``svdir/NAME``); when it newly
      is, the operation waits for its ``runsv``; ``False``: the link is removed and
      nothing else is done but ``enabled``
    + svdir, sourcedir: runit's service directory and where service definitions live
    """
    op = "runit.service"
    _check(op, service, svdir=svdir, sourcedir=sourcedir)
    was_managed = service in host.get_fact(RunitManaged, service=service, svdir=svdir)
    was_auto = not host.get_fact(File, path=f"{sourcedir}/{service}/down")
    # A service newly supervised must not start before we decide it should.
    if managed and not was_managed and was_auto:
        yield from inner(auto)(service=service, auto=False, sourcedir=sourcedir)
    yield from inner(manage)(service=service, managed=managed, svdir=svdir, sourcedir=sourcedir)
    if managed and not was_managed:
        yield from inner(wait_runsv)(service=service, svdir=svdir)
        yield FactChange(facts=(RunitStatus, RunitManaged))
    yield from inner(auto)(
        service=service, auto=was_auto if enabled is None else enabled, sourcedir=sourcedir
    )
    if not managed:
        return
    yield from ensure_service(
        RunitStatus,
        {"service": service, "svdir": svdir},
        service,
        lambda name, action: StringCommand(
            StringCommand("SVDIR=", QuoteString(svdir), _separator=""),
            "sv",
            action,
            QuoteString(name),
        ),  # fmt: skip
        running,
        restarted,
        reloaded,
        command,
    )


@operation()
def manage(
    service: str, managed: bool = True, svdir: str = "/var/service", sourcedir: str = "/etc/sv"
) -> Commands:
    """Make runit supervise a service (``managed=False``: stop supervising it): the
    link ``svdir/NAME`` -> ``sourcedir/NAME``."""
    _check("runit.manage", service, svdir=svdir, sourcedir=sourcedir)
    yield from inner(link)(
        path=f"{svdir}/{service}",
        target=f"{sourcedir}/{service}",
        present=managed,
        create_remote_dir=False,
    )
    yield FactChange(facts=(RunitManaged,))


@operation(is_idempotent=False)
def wait_runsv(service: str, svdir: str = "/var/service", timeout: int = 10) -> Commands:
    """Wait up to ``timeout`` seconds for ``runsv`` to supervise ``service`` (runsvdir
    looks for new services every 5 seconds)."""
    op = "runit.wait_runsv"
    _check(op, service, svdir=svdir)
    if isinstance(timeout, bool) or not str(timeout).isdigit():
        raise fail(op, f"argument timeout must be a number of seconds, got {timeout!r}")
    name = QuoteString(service)
    yield StringCommand(
        StringCommand("SVDIR=", QuoteString(svdir), _separator=""), "; export SVDIR; i=0;",
        f"while [ $i -lt {int(timeout)} ]; do", "sv status", name, ">/dev/null 2>&1 && exit 0;",
        "sleep 1; i=$((i+1)); done;",
        "echo", QuoteString(f"runsv for {service} not running after {int(timeout)} s"),
        ">&2; exit 1",
    )  # fmt: skip


@operation()
def auto(service: str, auto: bool = True, sourcedir: str = "/etc/sv") -> Commands:
    """Start a service automatically (``auto=False``: only by hand), through its
    ``sourcedir/NAME/down`` file."""
    _check("runit.auto", service, sourcedir=sourcedir)
    yield from inner(file)(
        path=f"{sourcedir}/{service}/down", present=not auto, create_remote_dir=False
    )
