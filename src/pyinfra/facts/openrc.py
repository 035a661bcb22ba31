"""OpenRC services: status (``rc-status``) and runlevel membership (``rc-update``)."""

from __future__ import annotations

import re

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import FactError
from pyinfra.api.facts import FactBase

# " sshd   [  started  ]" or " crond  [  started 1 day(s) 02:03:04 (0) ]"
_STATUS_LINE = re.compile(
    r"\s+([a-zA-Z0-9\-_.]+)\s+\[\s+([a-z]+)"
    r"(?:\s(?:[0-9]+\sday\(s\)\s)?[0-9]+:[0-9]+:[0-9]+\s\([0-9]+\))?\s+\]"
)
_RUNLEVEL = re.compile(r"^[A-Za-z0-9_.-]+$")


def _runlevel(runlevel: str) -> str:
    if not isinstance(runlevel, str) or not _RUNLEVEL.match(runlevel):
        raise FactError(f"openrc: not a runlevel name: {runlevel!r}")
    return runlevel


class OpenrcStatus(FactBase["dict[str, bool]"]):
    """``{service: started}`` for the services of ``runlevel`` (``rc-status``)."""

    @staticmethod
    def default() -> dict[str, bool]:
        return {}

    def requires_command(self, runlevel: str = "default") -> str:
        return "rc-status"

    def command(self, runlevel: str = "default") -> StringCommand:
        return StringCommand("rc-status", QuoteString(_runlevel(runlevel)))

    def process(self, output: list[str]) -> dict[str, bool]:
        services = {}
        for line in output:
            match = _STATUS_LINE.match(line)
            if match:
                services[match.group(1)] = match.group(2) == "started"
        return services


class OpenrcEnabled(FactBase["dict[str, bool]"]):
    """``{service: in runlevel}`` for every service (``rc-update show -v``)."""

    @staticmethod
    def default() -> dict[str, bool]:
        return {}

    def requires_command(self, runlevel: str = "default") -> str:
        return "rc-update"

    def command(self, runlevel: str = "default") -> StringCommand:
        # The runlevel is only used to read the output: tag it on the first line.
        return StringCommand(
            "echo", QuoteString(f"#runlevel {_runlevel(runlevel)}"), ";", "rc-update", "show", "-v"
        )

    def process(self, output: list[str]) -> dict[str, bool]:
        runlevel = (
            output[0].split(" ", 1)[1]
            if output and output[0].startswith("#runlevel ")
            else "default"
        )
        services = {}
        for line in output[1:]:
            name, sep, levels = line.partition("|")
            if sep:
                services[name.strip()] = runlevel in levels.split()
        return services
