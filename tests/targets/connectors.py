"""Which connectors of this tree exist yet (tests needing one skip with the reason)."""

from __future__ import annotations

import importlib.util

import pytest


def ssh_connector_available() -> bool:
    try:
        return importlib.util.find_spec("pyinfra.connectors.ssh") is not None
    except (ImportError, ValueError):
        return False


def require_ssh_connector() -> None:
    """Skip unless the SSH connector (src/pyinfra/connectors/ssh.py) exists: hosts of
    inventory-only connectors are built with it."""
    if not ssh_connector_available():
        pytest.skip("the SSH connector (pyinfra.connectors.ssh) is not available yet")
