"""Parsers for what vagrant prints: ``status --machine-readable`` and ``ssh-config``."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

COMMA = "%!(VAGRANT_COMMA)"


def _unescape(text: str) -> str:
    """Undo vagrant's machine-readable escaping: ``%!(VAGRANT_COMMA)`` -> ``,`` and the
    two characters ``\\n`` / ``\\r`` -> a newline / carriage return (vagrant does not
    escape backslashes, so nothing else is touched)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith(COMMA, i):
            out.append(",")
            i += len(COMMA)
        elif text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "nr":
            out.append("\n" if text[i + 1] == "n" else "\r")
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class MachineLine:
    target: str
    kind: str
    data: tuple[str, ...]


def parse_machine_readable(text: str) -> list[MachineLine]:
    """Lines ``TIMESTAMP,TARGET,TYPE,DATA...`` (other lines are ignored)."""
    lines: list[MachineLine] = []
    for raw in text.splitlines():
        parts = raw.rstrip("\r").split(",")
        if len(parts) < 3 or not parts[0].strip().isdigit():
            continue
        lines.append(
            MachineLine(_unescape(parts[1]), parts[2], tuple(_unescape(p) for p in parts[3:]))
        )
    return lines


@dataclass
class MachineStatus:
    name: str
    state: str = "unknown"
    provider: str | None = None
    description: str | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class VagrantError:
    kind: str
    message: str

    def first_line(self) -> str:
        for line in self.message.splitlines():
            if line.strip():
                return line.strip()
        return self.kind


def parse_status(text: str) -> tuple[list[MachineStatus], VagrantError | None]:
    """Machines in the order vagrant lists them, and the ``error-exit`` if any."""
    machines: dict[str, MachineStatus] = {}
    error: VagrantError | None = None
    for line in parse_machine_readable(text):
        if line.kind == "error-exit":
            kind = line.data[0] if line.data else "error"
            error = VagrantError(kind, ",".join(line.data[1:]) if len(line.data) > 1 else kind)
            continue
        if not line.target:
            continue
        machine = machines.setdefault(line.target, MachineStatus(line.target))
        value = line.data[0] if line.data else ""
        if line.kind == "state":
            machine.state = value
        elif line.kind == "provider-name":
            machine.provider = value
        elif line.kind == "metadata" and len(line.data) >= 2 and line.data[0] == "provider":
            machine.provider = line.data[1]
        elif line.kind == "state-human-long":
            machine.description = value
    return list(machines.values()), error


@dataclass
class SSHConfigEntry:
    host: str
    options: dict[str, list[str]] = field(default_factory=dict)

    def first(self, key: str) -> str | None:
        values = self.options.get(key.lower())
        return values[0] if values else None

    def all(self, key: str) -> list[str]:
        return list(self.options.get(key.lower(), []))


def parse_ssh_config(text: str) -> list[SSHConfigEntry]:
    """The ``Host`` blocks of ``vagrant ssh-config`` output; keys are lower-cased and
    quoted values unquoted."""
    entries: list[SSHConfigEntry] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, rest = line.partition(" ")
        if "=" in key:
            key, _, value_part = key.partition("=")
            rest = f"{value_part} {rest}".strip()
        rest = rest.strip().lstrip("=").strip()
        try:
            values = shlex.split(rest, posix=True)
        except ValueError:
            values = [rest]
        if key.lower() == "host":
            entries.append(SSHConfigEntry(" ".join(values)))
            continue
        if not entries:
            entries.append(SSHConfigEntry("*"))
        value = " ".join(values)
        entries[-1].options.setdefault(key.lower(), []).append(value)
    return entries


__all__ = [
    "MachineLine",
    "MachineStatus",
    "SSHConfigEntry",
    "VagrantError",
    "parse_machine_readable",
    "parse_ssh_config",
    "parse_status",
]
