"""Manage crontab entries.

The crontab is read once, edited here (only the entry concerned: other lines, comments
and blank lines stay as they are) and installed with ``crontab FILE`` in one command.
Schedules are checked before anything runs: a field out of range is refused.
"""

from __future__ import annotations

import io
import re
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api.command import FileUploadCommand, QuoteString, StringCommand
from pyinfra.api.facts import FactChange
from pyinfra.api.operation import operation
from pyinfra.facts.crontab import Crontab, CrontabLines, parse_crontab, parse_entries
from pyinfra.facts.parsing import try_int
from pyinfra.operations.util import check_name, fail

Commands = Generator[Any, Any, None]

OP = "crontab.crontab"
SPECIAL_TIMES = (
    "@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly",
)  # fmt: skip
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# field -> (lowest, highest, names)
_RANGES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "minute": (0, 59, ()),
    "hour": (0, 23, ()),
    "day_of_month": (1, 31, ()),
    "month": (1, 12, _MONTHS),
    "day_of_week": (0, 7, _DAYS),
}
_ITEM = re.compile(r"^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/([0-9]+))?$")


def _check_value(field: str, low: int, high: int, names: tuple[str, ...], value: str) -> None:
    if value.lower() in names:
        return
    if not value.isdigit() or not low <= int(value) <= high:
        allowed = f"{low}-{high}" + (f" or {names[0]}..{names[-1]}" if names else "")
        raise fail(OP, f"argument {field} is out of range: {value!r} (allowed: {allowed}, *)")


def schedule_field(field: str, value: Any) -> str:
    """A schedule argument (``5``, ``"*/10"``, ``[0, 30]``, ``"mon-fri"``) as crontab
    text, checked against the field's range."""
    if value is None:
        return "*"
    items = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value).split(",")
    low, high, names = _RANGES[field]
    for item in items:
        match = _ITEM.match(item.strip())
        if not match:
            raise fail(OP, f"argument {field} is not a cron field: {value!r}")
        base, step = match.groups()
        if step is not None and int(step) == 0:
            raise fail(OP, f"argument {field} has a zero step: {value!r}")
        if base != "*":
            for bound in base.split("-"):
                _check_value(field, low, high, names, bound)
    return ",".join(item.strip() for item in items)


def _same_schedule(entry: dict[str, Any], schedule: dict[str, str], special: str | None) -> bool:
    if special:
        return entry.get("special_time") == special
    if entry.get("special_time"):
        return False
    return all(try_int(value) == entry.get(field) for field, value in schedule.items())


@operation()
def crontab(
    command: str,
    present: bool = True,
    user: str | None = None,
    cron_name: str | None = None,
    minute: list[str | int] | str | int | None = None,
    hour: list[str | int] | str | int | None = None,
    month: list[str | int] | str | int | None = None,
    day_of_week: list[str | int] | str | int | None = None,
    day_of_month: list[str | int] | str | int | None = None,
    special_time: str | None = None,
    interpolate_variables: bool = False,
) -> Commands:
    """Add, update or remove a crontab entry.

    + command: the command to run (also what identifies the entry, unless ``cron_name``)
    + present: whether the entry should exist
    + user: whose crontab (default: the user commands run as)
    + cron_name: a name kept in a ``# pyinfra-name=NAME`` comment above the entry; the
      entry is then found by name, so its command can change
    + minute, hour, month, day_of_week, day_of_month: the schedule (default ``*``);
      numbers, ranges, steps, lists (``[0, 30]``), month/day names
    + special_time: ``@reboot``, ``@daily``... instead of a schedule
    + interpolate_variables: accepted for compatibility; the entry is always written
      exactly as given (nothing is expanded)
    """
    if not isinstance(command, str) or not command.strip() or "\n" in command:
        raise fail(OP, f"argument command must be a non-empty single line, got {command!r}")
    if user is not None:
        check_name(OP, user, "user")
    if cron_name is not None and (not str(cron_name).strip() or "\n" in str(cron_name)):
        raise fail(OP, f"argument cron_name must be a non-empty single line, got {cron_name!r}")
    if special_time is not None and special_time not in SPECIAL_TIMES:
        raise fail(
            OP, f"argument special_time must be one of {', '.join(SPECIAL_TIMES)}, "
            f"got {special_time!r}"
        )  # fmt: skip
    schedule = {
        "minute": schedule_field("minute", minute),
        "hour": schedule_field("hour", hour),
        "day_of_month": schedule_field("day_of_month", day_of_month),
        "month": schedule_field("month", month),
        "day_of_week": schedule_field("day_of_week", day_of_week),
    }
    new_line = (
        f"{special_time} {command}" if special_time else " ".join([*schedule.values(), command])
    )
    name_comment = f"# pyinfra-name={cron_name}" if cron_name is not None else None

    lines = list(host.get_fact(CrontabLines, user=user))
    found: tuple[int, dict[str, Any]] | None = None
    for index, entry in parse_entries(lines):
        if "command" not in entry:
            continue
        by_name = name_comment is not None and name_comment in entry.get("comments", [])
        if by_name or (name_comment is None and entry.get("command") == command):
            found = (index, dict(entry))
            break
    if found is None and name_comment is not None:
        # Not named yet: adopt an entry with the same command.
        for index, entry in parse_entries(lines):
            if entry.get("command") == command:
                found = (index, dict(entry))
                break

    new_lines = list(lines)
    if not present:
        if found is None:
            host.noop(f"crontab {command} does not exist")
            return
        index = found[0]
        start = (
            index - 1
            if index > 0 and name_comment and lines[index - 1].strip() == name_comment
            else index
        )
        del new_lines[start : index + 1]
    elif found is None:
        if any(line.strip() for line in lines):
            new_lines.append("")
        if name_comment:
            new_lines.append(name_comment)
        new_lines.append(new_line)
    else:
        index, current = found
        named = name_comment is None or name_comment in current.get("comments", [])
        if (
            named
            and current.get("command") == command
            and _same_schedule(current, schedule, special_time)
        ):
            host.noop(f"crontab {command} exists")
            return
        new_lines[index] = new_line
        if not named and name_comment:
            new_lines.insert(index, name_comment)

    text = "\n".join(new_lines) + "\n" if new_lines else ""
    temp = host.get_temp_filename()
    yield FileUploadCommand(io.BytesIO(text.encode()), temp)
    who = ["-u", QuoteString(user)] if user else []
    yield StringCommand(
        "crontab", *who, QuoteString(temp), ";", "rc=$?;", "rm", "-f", QuoteString(temp),
        ";", "exit", "$rc",
    )  # fmt: skip
    yield FactChange(
        facts=(Crontab, CrontabLines),
        expect=(
            (CrontabLines, {"user": user}, new_lines),
            (Crontab, {"user": user}, parse_crontab(new_lines)),
        ),
    )
