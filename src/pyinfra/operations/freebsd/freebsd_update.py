"""FreeBSD base system updates: ``freebsd-update fetch install``."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.operations._packaging import Manager, probe

Commands = Generator[Any, Any, None]


@operation(is_idempotent=False)
def update(
    force: bool = False,
    basedir: str | None = None,
    workdir: str | None = None,
    conffile: str | None = None,
    jail: str | None = None,
    key: str | None = None,
    currently_running: str | None = None,
    server: str | None = None,
) -> Commands:
    """Fetch and install the binary updates of the installed world
    (``freebsd-update --not-running-from-cron fetch install``); the options map to
    ``-F -b -d -f -j -k --currently-running -s``."""
    options: list[Any] = ["-F"] if force else []
    for flag, value in (
        ("-b", basedir),
        ("-d", workdir),
        ("-f", conffile),
        ("-j", jail),
        ("-k", key),
        ("--currently-running", currently_running),
        ("-s", server),
    ):
        if value:
            options += [flag, QuoteString(value)]
    none = lambda args: StringCommand("true")  # noqa: E731 - the probe only checks access
    probe(
        Manager(
            "freebsd.freebsd_update.update", "freebsd-update", "not a FreeBSD host?", none, none
        )
    )
    yield StringCommand(
        "PAGER=cat", "freebsd-update", "--not-running-from-cron", *options, "fetch", "install"
    )
    yield FactChange(facts=())
