"""UEFI boot variables (``efibootmgr``)."""

from __future__ import annotations

from typing import Any

from pyinfra.api.facts import FactBase


class EFIBootMgr(FactBase["dict[str, Any] | None"]):
    """The UEFI boot configuration, or ``None`` on a system without UEFI variables::

        {"BootNext": 6, "BootCurrent": 6, "Timeout": 0, "BootOrder": [1, 4, 3],
         "Entries": {1: (True, "myefi1"), 2: (False, "myefi2.efi")}}

    Boot numbers are read as hexadecimal, as efibootmgr prints them; an entry is
    ``(active, description)``.
    """

    requires_command = "efibootmgr"

    def command(self) -> str:
        return "efibootmgr 2>/dev/null || true"

    def process(self, output: list[str]) -> dict[str, Any] | None:
        info: dict[str, Any] = {
            "BootNext": None,
            "BootCurrent": None,
            "Timeout": None,
            "BootOrder": [],
            "Entries": {},
        }
        lines = iter(output)
        line = next(lines, None)
        for key in ("BootNext", "BootCurrent"):
            if line is not None and line.startswith(f"{key}: "):
                info[key] = int(line.split(": ", 1)[1], 16)
                line = next(lines, None)
        if line is not None and line.startswith("Timeout: "):
            info["Timeout"] = int(line.split(": ", 1)[1].split()[0])
            line = next(lines, None)
        if line is not None and line.startswith("BootOrder: "):
            order = line.split(": ", 1)[1].strip()
            info["BootOrder"] = [int(item, 16) for item in order.split(",") if item]
            line = next(lines, None)
        while line is not None and line.startswith("Boot"):
            number = int(line[4:8], 16)
            info["Entries"][number] = (line[8:9] == "*", line[10:])
            line = next(lines, None)
        if line is not None:
            raise ValueError(f"unexpected efibootmgr line: {line!r}")
        return info
