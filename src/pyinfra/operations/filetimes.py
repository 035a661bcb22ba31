"""Access and modification times for ``files.put(atime=..., mtime=...)``.

A wanted time is a ``datetime`` (naive: the host's local time), a POSIX timestamp
(``int``/``float``/numeric ``str``), an ISO 8601 ``str``, ``True`` (the local source
file's own time) or the path of a file on the host whose time is copied (as
``touch -r``). Times are compared and set to the second, with ``TZ=UTC0 touch -t``,
which GNU, BusyBox, BSD and macOS all understand.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.facts.filecommands import shell_path

TimeSpec = datetime | float | int | str | bool


def _aware(value: datetime, offset: int) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone(timedelta(seconds=offset)))
    return value


def wanted_time(
    spec: TimeSpec,
    field: str,
    local_source: str | None,
    utc_offset: Any,
    reference: Any,
) -> int | None:
    """Epoch seconds for ``spec`` (``None``: ``spec`` names a host file that is
    missing). ``utc_offset()`` and ``reference(path)`` read host facts lazily."""
    if isinstance(spec, bool):
        if local_source is None:
            raise ValueError(f"{field}=True needs src to be a local file")
        stat = os.stat(local_source)
        return int(stat.st_atime if field == "atime" else stat.st_mtime)
    if isinstance(spec, datetime):
        return int(_aware(spec, utc_offset()).timestamp())
    if isinstance(spec, (int, float)):
        return int(spec)
    text = spec.strip()
    try:
        return int(float(text))
    except ValueError:
        pass
    try:
        return int(_aware(datetime.fromisoformat(text), utc_offset()).timestamp())
    except ValueError:
        pass
    info = reference(text)
    if not isinstance(info, dict) or info.get(field) is None:
        return None
    when: datetime = info[field]
    return int(when.replace(tzinfo=UTC).timestamp())


def current_time(info: Any, field: str) -> int | None:
    """Epoch seconds of a stat fact's ``atime``/``mtime`` (naive UTC datetimes)."""
    if not isinstance(info, dict) or info.get(field) is None:
        return None
    when: datetime = info[field]
    return int(when.replace(tzinfo=UTC).timestamp())


def touch(path: str, field: str, epoch: int) -> StringCommand:
    """Set ``path``'s atime or mtime (not both) to ``epoch``."""
    stamp = datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y%m%d%H%M.%S")
    flag = "-a" if field == "atime" else "-m"
    return StringCommand("TZ=UTC0", "touch", flag, "-t", stamp, shell_path(path))


def as_datetime(epoch: int) -> datetime:
    """A fact-style naive UTC datetime (for dry-run predictions)."""
    return datetime.fromtimestamp(epoch, tz=UTC).replace(tzinfo=None)
