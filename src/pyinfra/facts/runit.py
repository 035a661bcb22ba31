"""runit services: their state (``sv status``) and which are managed (links in SVDIR)."""

from __future__ import annotations

from typing import Any

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase


class RunitStatus(FactBase["dict[str, bool | None]"]):
    """``{service: running}`` for the services in ``svdir`` (or only ``service``):
    ``True`` (run), ``False`` (down), ``None`` (anything else, e.g. no runsv yet)."""

    @staticmethod
    def default() -> dict[str, bool | None]:
        return {}

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "sv"

    def command(self, service: str | None = None, svdir: str = "/var/service") -> StringCommand:
        if service is None:
            return StringCommand(
                "export", StringCommand("SVDIR=", QuoteString(svdir), _separator=""), "&&",
                'cd "$SVDIR" && for s in *; do [ -e "$s" ] && sv status "$s"; done',
                "2>/dev/null; true",
            )  # fmt: skip
        return StringCommand(
            StringCommand("SVDIR=", QuoteString(svdir), _separator=""), "sv", "status",
            QuoteString(service), "2>/dev/null; true",
        )  # fmt: skip

    def process(self, output: list[str]) -> dict[str, bool | None]:
        services: dict[str, bool | None] = {}
        for line in output:
            parts = line.split(": ", 2)
            if len(parts) < 2:
                continue
            state, name = parts[0], parts[1]
            services[name] = True if state == "run" else False if state == "down" else None
        return services


class RunitManaged(FactBase["set[str]"]):
    """Names of the services runit manages in ``svdir`` (its symbolic links), or only
    ``service`` if given and managed."""

    @staticmethod
    def default() -> set[str]:
        return set()

    def command(self, service: str | None = None, svdir: str = "/var/service") -> StringCommand:
        if service is None:
            return StringCommand(
                "cd", QuoteString(svdir), "2>/dev/null &&",
                'for s in *; do [ -L "$s" ] && echo "$s"; done; true',
            )  # fmt: skip
        return StringCommand(
            "cd", QuoteString(svdir), "2>/dev/null && test -L", QuoteString(service),
            "&& echo", QuoteString(service), "; true",
        )  # fmt: skip

    def process(self, output: list[str]) -> set[str]:
        return {line for line in output if line}
