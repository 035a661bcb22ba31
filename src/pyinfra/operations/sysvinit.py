"""Manage SysV init services (``/etc/init.d`` scripts and their ``/etc/rc?.d`` links)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.sysvinit import InitdServiceStatus, InitdStatus, RcLinks
from pyinfra.operations.servicectl import check_service_name, plan_service, status_expect
from pyinfra.operations.util import chain, fail

Commands = Generator[Any, Any, None]


def _script(name: str, action: str) -> StringCommand:
    return StringCommand(QuoteString(f"/etc/init.d/{name}"), action)


@operation()
def service(
    service: str,
    running: bool | None = True,
    restarted: bool = False,
    reloaded: bool = False,
    enabled: bool | None = None,
    command: str | None = None,
) -> Commands:
    """Start/stop/restart/reload an ``/etc/init.d`` service; enable it at boot
    (``update-rc.d NAME defaults``, ``chkconfig`` or ``rc-update``, whichever the host
    has) or disable it (its ``/etc/rc?.d/S??NAME`` start links are removed).

    + service: the script's name in ``/etc/init.d``
    + running / restarted / reloaded / command: as in ``systemd.service``
    + enabled: whether it should start at boot (``None``: leave it)
    """
    op = "sysvinit.service"
    check_service_name(op, service)
    status = host.get_fact(InitdServiceStatus, service=service)
    plan = plan_service(
        service, status.get(service), _script, running, restarted, reloaded, command
    )
    commands: list[Any] = list(plan.commands)
    links: dict[str, str] = {}
    if isinstance(enabled, bool):
        links = host.get_fact(RcLinks, service=service)
        start_links = sorted(link for link in links if link.rsplit("/", 1)[-1].startswith("S"))
        name = QuoteString(service)
        if enabled and not start_links:
            commands.append(
                StringCommand(
                    "if command -v update-rc.d >/dev/null 2>&1; then update-rc.d",
                    name,
                    "defaults; elif command -v chkconfig >/dev/null 2>&1; then chkconfig --add",
                    name,
                    "&& chkconfig",
                    name,
                    "on; elif command -v rc-update >/dev/null 2>&1;",
                    "then rc-update add",
                    name,
                    "default; else echo",
                    QuoteString(f"cannot enable {service}: no update-rc.d, chkconfig or rc-update"),
                    ">&2; exit 1; fi",
                )  # fmt: skip
            )
        elif not enabled and start_links:
            commands.append(StringCommand("rm", "-f", *[QuoteString(link) for link in start_links]))
        else:
            host.noop(f"service {service} is {'enabled' if enabled else 'disabled'}")
    if commands:
        yield from chain(commands)
        expect = list(
            status_expect(plan, InitdServiceStatus, {"service": service}, status, service)
        )
        if enabled is False:
            stop_links = {
                k: v for k, v in links.items() if not k.rsplit("/", 1)[-1].startswith("S")
            }
            expect.append((RcLinks, {"service": service}, stop_links))
        elif enabled:
            expect.append(
                (RcLinks, {"service": service}, links or {f"/etc/rc2.d/S01{service}": ""})
            )
        yield FactChange(facts=(InitdServiceStatus, InitdStatus, RcLinks), expect=tuple(expect))


@operation()
def enable(
    service: str,
    start_priority: int = 20,
    stop_priority: int = 80,
    start_levels: tuple[int, ...] | list[int] = (2, 3, 4, 5),
    stop_levels: tuple[int, ...] | list[int] = (0, 1, 6),
) -> Commands:
    """Enable an ``/etc/init.d`` script by hand: ``/etc/rcN.d/S{start_priority}NAME``
    links for ``start_levels`` and ``K{stop_priority}NAME`` for ``stop_levels``, all
    pointing to ``/etc/init.d/NAME``."""
    op = "sysvinit.enable"
    check_service_name(op, service)
    for value, argument in ((start_priority, "start_priority"), (stop_priority, "stop_priority")):
        if isinstance(value, bool) or not str(value).isdigit() or int(value) > 99:
            raise fail(op, f"argument {argument} must be a number from 0 to 99, got {value!r}")
    for levels, argument in ((start_levels, "start_levels"), (stop_levels, "stop_levels")):
        for level in levels:
            if str(level) not in "0123456S" or len(str(level)) != 1:
                raise fail(op, f"argument {argument} holds an invalid runlevel: {level!r}")
    target = f"/etc/init.d/{service}"
    wanted = [f"/etc/rc{lv}.d/S{int(start_priority):02d}{service}" for lv in start_levels]
    wanted += [f"/etc/rc{lv}.d/K{int(stop_priority):02d}{service}" for lv in stop_levels]
    links = host.get_fact(RcLinks, service=service)
    commands = [
        StringCommand("ln", "-sfn", QuoteString(target), QuoteString(link))
        for link in wanted
        if links.get(link) != target
    ]
    if not commands:
        host.noop(f"service {service} is enabled")
        return
    yield from chain(commands)
    yield FactChange(
        facts=(RcLinks,),
        expect=((RcLinks, {"service": service}, {**links, **dict.fromkeys(wanted, target)}),),
    )
