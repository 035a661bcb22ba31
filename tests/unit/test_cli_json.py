"""``--json`` encoding of values JSON lacks, as pyinfra 3.x writes them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pyinfra_cli.jsonout import json_default


def test_sets_dates_bytes_paths() -> None:
    value = {
        "grants": {"SELECT", "INSERT"},
        "when": datetime(2026, 1, 2, 3, 4, 5),
        "raw": b"bytes",
        "path": Path("/etc/x"),
    }
    assert json.loads(json.dumps(value, default=json_default)) == {
        "grants": ["INSERT", "SELECT"],
        "when": "2026-01-02T03:04:05",
        "raw": "bytes",
        "path": "/etc/x",
    }
