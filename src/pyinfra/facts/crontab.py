"""The crontab of a user, parsed into entries (``crontab -l``)."""

from __future__ import annotations

import re
from typing import Any, NotRequired

from typing_extensions import TypedDict

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.facts.parsing import try_int


class CrontabDict(TypedDict):
    """One crontab entry: a command with its schedule, or an environment line."""

    command: NotRequired[str]
    env: NotRequired[str]
    minute: NotRequired[int | str]
    hour: NotRequired[int | str]
    month: NotRequired[int | str]
    day_of_month: NotRequired[int | str]
    day_of_week: NotRequired[int | str]
    comments: NotRequired[list[str]]
    special_time: NotRequired[str]


_SCHEDULE = ("minute", "hour", "day_of_month", "month", "day_of_week")


class CrontabFile:
    """The entries of a crontab in file order (``commands``), each a
    :class:`CrontabDict` with the comment lines just above it."""

    def __init__(self, input_dict: dict[str, CrontabDict] | None = None) -> None:
        self.commands: list[CrontabDict] = []
        for command, entry in (input_dict or {}).items():
            item: Any = dict(entry)
            item["command"] = command
            self.add_item(item)

    def add_item(self, item: CrontabDict) -> None:
        self.commands.append(item)

    def __len__(self) -> int:
        return len(self.commands)

    def __bool__(self) -> bool:
        return bool(self.commands)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CrontabFile):
            return self.commands == other.commands
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def items(self) -> dict[str, CrontabDict]:
        """``{command or env line: entry}``."""
        return {str(i.get("command") or i.get("env")): i for i in self.commands}

    def get_command(
        self, command: str | None = None, name: str | None = None
    ) -> CrontabDict | None:
        """The entry running ``command``, or the one named ``name`` (a
        ``# pyinfra-name=NAME`` comment above it)."""
        if not command and not name:
            raise ValueError("get_command needs a command or a name")
        marker = f"# pyinfra-name={name}"
        for item in self.commands:
            if "command" not in item:
                continue
            if item.get("command") == command or marker in item.get("comments", []):
                return item
        return None

    def get_env(self, env: str) -> CrontabDict | None:
        return next((item for item in self.commands if item.get("env") == env), None)

    def get(self, item: str) -> CrontabDict | None:
        return self.get_command(command=item, name=item) or self.get_env(item)

    def __getitem__(self, item: str) -> CrontabDict | None:
        return self.get(item)

    def __repr__(self) -> str:
        return f"CrontabResult({self.commands})"

    def format_item(self, item: CrontabDict) -> str:
        """The crontab lines of one entry (its comments first)."""
        lines = list(item.get("comments", []))
        if "env" in item:
            lines.append(item["env"])
        elif "special_time" in item:
            lines.append(f"{item['special_time']} {item.get('command', '')}")
        else:
            schedule = " ".join(str(item.get(k, "*")) for k in _SCHEDULE)
            lines.append(f"{schedule} {item.get('command', '')}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return "\n".join(self.format_item(item) for item in self.commands)

    def to_json(self) -> list[CrontabDict]:
        return self.commands


# NAME=value lines (bare, "quoted" or 'quoted' names) set the environment of the jobs.
_ENV_LINE = re.compile(r"""^\s*(?:"[^"]*"|'[^']*'|[A-Za-z_][A-Za-z0-9_]*)\s*=""")


def parse_entries(lines: list[str]) -> list[tuple[int, CrontabDict]]:
    """Crontab lines -> ``[(line index, entry)]``: each entry with the comment and blank
    lines just above it."""
    entries: list[tuple[int, CrontabDict]] = []
    comments: list[str] = []
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith("#"):
            comments.append(line)
            continue
        item: Any
        if line.startswith("@"):
            special, _, command = line.partition(" ")
            item = {"command": command.strip(), "special_time": special, "comments": comments}
        elif _ENV_LINE.match(line):
            item = {"env": line, "comments": comments}
        else:
            fields = line.split(None, 5)
            if len(fields) < 6:
                raise ValueError(f"not a crontab line: {line!r}")
            item = {"command": fields[5], "comments": comments}
            item.update(
                {key: try_int(value) for key, value in zip(_SCHEDULE, fields[:5], strict=True)}
            )
        entries.append((index, item))
        comments = []
    return entries


def parse_crontab(lines: list[str]) -> CrontabFile:
    """Crontab text lines -> :class:`CrontabFile`."""
    crontab = CrontabFile()
    for _, item in parse_entries(lines):
        crontab.add_item(item)
    return crontab


def _crontab_command(user: str | None) -> StringCommand:
    if user:
        return StringCommand("crontab", "-l", "-u", QuoteString(user), "2>/dev/null || true")
    return StringCommand("crontab -l 2>/dev/null || true")


class Crontab(FactBase[CrontabFile]):
    """The crontab of ``user`` (default: the user commands run as) as a
    :class:`CrontabFile`: ``.items()`` gives ``{command: {"minute", "hour", "month",
    "day_of_month", "day_of_week", "comments"}}`` (or ``{"special_time": "@daily"}``),
    ``.commands`` the entries in file order."""

    requires_command = "crontab"

    @staticmethod
    def default() -> CrontabFile:
        return CrontabFile()

    def command(self, user: str | None = None) -> StringCommand:
        return _crontab_command(user)

    def process(self, output: list[str]) -> CrontabFile:
        return parse_crontab(output)


class CrontabLines(FactBase["list[str]"]):
    """The crontab of ``user`` as raw lines (what ``crontab.crontab`` edits)."""

    requires_command = "crontab"

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self, user: str | None = None) -> StringCommand:
        return _crontab_command(user)

    def process(self, output: list[str]) -> list[str]:
        return list(output)
