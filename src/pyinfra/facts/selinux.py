"""SELinux: booleans, file contexts and their mappings, port types."""

from __future__ import annotations

import re

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import FactError
from pyinfra.api.facts import FactBase

FIELDS = ("user", "role", "type", "level")  # the order of a context's parts
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
PROTOCOLS = ("tcp", "udp", "dccp", "sctp")


class SEBoolean(FactBase[str]):
    """The value of an SELinux boolean, ``"on"`` or ``"off"`` (``""``: no such boolean)."""

    @staticmethod
    def default() -> str:
        return ""

    def requires_command(self, boolean: str) -> str:
        return "getsebool"

    def command(self, boolean: str) -> StringCommand:
        if not isinstance(boolean, str) or not _NAME.match(boolean):
            raise FactError(f"selinux: not a boolean name: {boolean!r}")
        return StringCommand("getsebool", QuoteString(boolean), "2>/dev/null || true")

    def process(self, output: list[str]) -> str:
        _, sep, value = output[0].partition(" --> ")
        return value.strip() if sep else ""


class FileContext(FactBase["dict[str, str] | None"]):
    """The SELinux context of ``path`` as ``{"user", "role", "type", "level"}``, or
    ``None`` if the path does not exist."""

    def command(self, path: str) -> StringCommand:
        return StringCommand("stat", "-c", "%C", QuoteString(path), "2>/dev/null || true")

    def process(self, output: list[str]) -> dict[str, str] | None:
        parts = output[0].strip().split(":", 3)
        return dict(zip(FIELDS, parts, strict=True)) if len(parts) == 4 else None


class FileContextMapping(FactBase["dict[str, str]"]):
    """The file-context mapping (``semanage fcontext``) for ``target``, like
    :class:`FileContext`; ``{}`` without one. Needs root."""

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def requires_command(self, target: str) -> str:
        return "semanage"

    def command(self, target: str) -> StringCommand:
        # Lines whose path expression is exactly ``target``.
        return StringCommand(
            "semanage", "fcontext", "-n", "-l", "|", "awk", "-v",
            StringCommand("t=", QuoteString(target), _separator=""), "'$1 == t'",
        )  # fmt: skip

    def process(self, output: list[str]) -> dict[str, str]:
        if len(output) != 1:
            return {}
        match = re.match(r"^.*\s+(\w+):(\w+):(\w+):(\w+)", output[0])
        return dict(zip(FIELDS, match.groups(), strict=True)) if match else {}


_PORT_LINE = re.compile(r"^([\w_]+)\s+(\w+)\s+([\w\-,\s]+)$")


class SEPorts(FactBase["dict[str, dict[int, str]]"]):
    """SELinux port types: ``{"tcp": {22: "ssh_port_t", ...}, "udp": {...}}``
    (``semanage port -ln``; ``unreserved_port_t`` left out). Needs root."""

    requires_command = "semanage"

    @staticmethod
    def default() -> dict[str, dict[int, str]]:
        return {}

    def command(self) -> str:
        return "semanage port -ln"

    def process(self, output: list[str]) -> dict[str, dict[int, str]]:
        ports: dict[str, dict[int, str]] = {}
        for line in output:
            match = _PORT_LINE.match(line)
            if match is None or match.group(1) == "unreserved_port_t":
                continue
            table = ports.setdefault(match.group(2), {})
            for item in match.group(3).split(","):
                low, _, high = item.strip().partition("-")
                for port in range(int(low), int(high or low) + 1):
                    table[port] = match.group(1)
        return ports


class SEPort(FactBase[str]):
    """The SELinux type of ``protocol``/``port`` (``sepolicy network``), ``""`` when
    none is set."""

    @staticmethod
    def default() -> str:
        return ""

    def requires_command(self, protocol: str, port: int) -> str:
        return "sepolicy"

    def command(self, protocol: str, port: int) -> StringCommand:
        if protocol not in PROTOCOLS:
            raise FactError(
                f"selinux: protocol must be one of {', '.join(PROTOCOLS)}: {protocol!r}"
            )
        if isinstance(port, bool) or not str(port).isdigit():
            raise FactError(f"selinux: not a port number: {port!r}")
        return StringCommand(
            f"(sepolicy network -p {int(port)} 2>/dev/null || true) | grep", QuoteString(protocol)
        )

    def process(self, output: list[str]) -> str:
        # "22: tcp ssh_port_t 22" (specific type) then the generic range's line
        return output[0].split(" ")[2] if len(output) > 1 else ""
