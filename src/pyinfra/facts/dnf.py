"""Facts about dnf: configured repositories and module streams."""

from __future__ import annotations

import re

from pyinfra.api.facts import FactBase
from pyinfra.facts._rpmrepos import RepoFilesFact

# "postgresql  16 [e]  client, server [d]  ..." / "php  8.1 [d][x]  common [d] ..."
_MODULE_LINE = re.compile(r"^(?P<name>\S+)\s+(?P<stream>[^\s\[]+)\s*(?P<flags>(?:\[[a-z]\])+)")


def _modules(output: list[str], flag: str) -> list[tuple[str, str]]:
    found = []
    for line in output:
        match = _MODULE_LINE.match(line.strip())
        if match and f"[{flag}]" in match.group("flags"):
            found.append((match.group("name"), match.group("stream")))
    return found


class DnfRepositories(RepoFilesFact):
    """Repositories of ``/etc/dnf.conf``, ``/etc/dnf.repos.d`` and ``/etc/yum.repos.d``:
    ``[{"repoid": "baseos", "name": ..., "baseurl": ..., "filename": ...}]``."""

    requires_command = "dnf"
    patterns = ["/etc/dnf.conf", "/etc/dnf.repos.d/*.repo", "/etc/yum.repos.d/*.repo"]


class DnfEnabledModules(FactBase["dict[str, str]"]):
    """Enabled module streams: ``{"postgresql": "16"}``."""

    requires_command = "dnf"

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self) -> str:
        return "dnf module list --enabled"

    def process(self, output: list[str]) -> dict[str, str]:
        return dict(_modules(output, "e"))


class DnfDisabledModules(FactBase["list[str]"]):
    """Sorted names of the explicitly disabled modules: ``["php", "ruby"]``."""

    requires_command = "dnf"

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self) -> str:
        return "dnf module list --disabled"

    def process(self, output: list[str]) -> list[str]:
        return sorted({name for name, _ in _modules(output, "x")})
