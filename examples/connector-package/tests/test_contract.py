"""pyinfra's contract suite against @sandbox: `pytest` (or `pytest -p pyinfra.testing`)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

from pyinfra.api.host import Host
from pyinfra.testing import ConnectorContract, connected_host


@pytest.mark.lacks("pty")  # @sandbox has no terminals
class TestSandboxContract(ConnectorContract):
    @pytest.fixture
    def contract_host(self) -> Iterator[Host]:
        with tempfile.TemporaryDirectory(prefix="pyinfra-sandbox-") as directory:
            with connected_host(f"@sandbox/{directory}") as host:
                yield host
