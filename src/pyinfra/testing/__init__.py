"""pyinfra's connector contract suite, shipped as a pytest plugin.

The same assertions every built-in connector passes (exit codes, output order, stdin,
env and chdir, quoting, sudo, timeouts that kill the command's whole tree on the
target, file round trips, terminals, disconnect and reconnect), for a connector you
write. In your connector package's tests::

    import pytest
    from pyinfra.testing import ConnectorContract, connected_host

    @pytest.mark.lacks("sudo")              # what your target cannot do
    class TestBoxContract(ConnectorContract):
        @pytest.fixture
        def contract_host(self):            # the one fixture: a connected host
            with connected_host("@box/127.0.0.1", {"box_port": 8443}) as host:
                yield host

and run ``pytest`` (the plugin is loaded by its ``pytest11`` entry point, or explicitly
with ``pytest -p pyinfra.testing``). Capabilities: ``shell`` (really runs commands),
``timeout`` (``_timeout`` kills the command on the target), ``sudo`` (passwordless
sudo to root and to ``contract_sudo_user``), ``files`` (``put_file``/``get_file``),
``pty`` (``_get_pty``). Tests that need a capability your class ``lacks`` are not
collected. Optional fixtures to override: ``contract_process_exists`` (how to see
whether a process still runs on the target; by default ``pgrep`` through the host
itself) and ``contract_sudo_user`` (default ``nobody``).
"""

from __future__ import annotations

from pyinfra.testing.contract import CAPABILITIES, ConnectorContract, connected_host
from pyinfra.testing.plugin import (
    contract_host,
    contract_process_exists,
    contract_sudo_user,
    pytest_collection_modifyitems,
    pytest_configure,
)

__all__ = [
    "CAPABILITIES",
    "ConnectorContract",
    "connected_host",
    "contract_host",
    "contract_process_exists",
    "contract_sudo_user",
    "pytest_collection_modifyitems",
    "pytest_configure",
]
