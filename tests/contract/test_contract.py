"""The contract suite of pyinfra.testing over every built-in connector (the targets of
tests/contract/targets_*.py; see conftest.py)."""

from __future__ import annotations

from pyinfra.testing import ConnectorContract


class TestBuiltinConnectors(ConnectorContract):
    """The same assertions a third-party connector gets from ``pyinfra.testing``."""
