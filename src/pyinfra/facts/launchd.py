"""launchd services (macOS) and whether they run (``launchctl list``)."""

from __future__ import annotations

from pyinfra.api.facts import FactBase


class LaunchdStatus(FactBase["dict[str, bool]"]):
    """``{label: running}`` for the services launchd knows (``launchctl list``: a
    service with a PID runs)."""

    requires_command = "launchctl"

    @staticmethod
    def default() -> dict[str, bool]:
        return {}

    def command(self) -> str:
        return "launchctl list"

    def process(self, output: list[str]) -> dict[str, bool]:
        services = {}
        for line in output:
            fields = line.split()
            if len(fields) < 3 or fields[0] == "PID":
                continue
            services[fields[2]] = fields[0].isdigit()
        return services
