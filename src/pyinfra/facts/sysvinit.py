"""SysV init scripts (``/etc/init.d``): their status, their rc.d links."""

from __future__ import annotations

import re
from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase

# NAME=EXIT_STATUS lines; like pyinfra, names are letters, digits and dashes.
_STATUS_LINE = re.compile(r"([a-zA-Z0-9\-]+)=([0-9]+)")


def lsb_status(code: int) -> bool | None:
    """An LSB ``status`` exit code: 0 running, 1-3 not running, others unknown."""
    if code == 0:
        return True
    return False if code < 4 else None


def parse_status_lines(output: list[str]) -> dict[str, bool | None]:
    services: dict[str, bool | None] = {}
    for line in output:
        match = _STATUS_LINE.match(line)
        if match:
            services[match.group(1)] = lsb_status(int(match.group(2)))
    return services


class InitdStatus(FactBase["dict[str, bool | None]"]):
    """``{script: running}`` for every LSB script in ``/etc/init.d`` (one with a
    ``### BEGIN INIT INFO`` header), from the exit status of ``SCRIPT status``: ``True``
    (0), ``False`` (1-3) or ``None`` (anything else: status not supported)."""

    @staticmethod
    def default() -> dict[str, bool | None]:
        return {}

    def command(self) -> str:
        return (
            'for s in /etc/init.d/*; do [ -f "$s" ] || continue; '
            "grep -q '### BEGIN INIT INFO' \"$s\" 2>/dev/null || continue; "
            '"$s" status >/dev/null 2>&1; echo "${s##*/}=$?"; done'
        )

    def process(self, output: list[str]) -> dict[str, bool | None]:
        return parse_status_lines(output)


class InitdServiceStatus(FactBase["dict[str, bool | None]"]):
    """:class:`InitdStatus` for one script only (what ``sysvinit.service`` reads)."""

    @staticmethod
    def default() -> dict[str, bool | None]:
        return {}

    def command(self, service: str) -> StringCommand:
        script = QuoteString(f"/etc/init.d/{service}")
        return StringCommand(
            "if", "grep", "-q", "'### BEGIN INIT INFO'", script, "2>/dev/null;", "then",
            script, "status", ">/dev/null", "2>&1;",
            "echo", StringCommand(QuoteString(f"{service}="), "$?;", _separator=""),
            "fi",
        )  # fmt: skip

    def process(self, output: list[str]) -> dict[str, bool | None]:
        services: dict[str, bool | None] = {}
        for line in output:
            name, sep, code = line.rpartition("=")
            if sep and code.isdigit():
                services[name] = lsb_status(int(code))
        return services


class RcLinks(FactBase["dict[str, str]"]):
    """``{link: target}`` for the ``/etc/rc?.d`` links of a service: start links
    (``S??NAME``) and stop links (``K??NAME``)."""

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self, service: str) -> StringCommand:
        name = QuoteString(service)
        return StringCommand(
            'for l in /etc/rc?.d/[SK][0-9][0-9]*; do [ -L "$l" ] || continue;',
            'n="${l##*/}"; [ "${n#???}" =',
            name,
            "] || continue;",
            'echo "$l=$(readlink "$l")"; done',
        )

    def process(self, output: list[str]) -> dict[str, Any]:
        links: dict[str, Any] = {}
        for line in output:
            link, _, target = line.partition("=")
            links[link] = target
        return links
