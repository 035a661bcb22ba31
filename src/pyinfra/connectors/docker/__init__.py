"""The ``@docker`` and ``@podman`` connectors: commands in a container of a local engine.

``pyinfra.connectors.docker.DockerConnector`` and ``PodmanConnector`` are the public
names; the modules of this package are their parts: :mod:`.connector` (the connectors),
:mod:`.api` (the Engine API client), :mod:`.exec` (one command as an exec, and killing
it), :mod:`.session` (many commands through one exec), :mod:`.remote` (an engine driven
through its CLI over SSH, for ``@dockerssh``) and :mod:`.address` (where a container's
own sshd is reached).
"""

from pyinfra.connectors.docker.connector import (
    DockerConnector,
    DockerConnectorData,
    PodmanConnector,
)

__all__ = ["DockerConnector", "PodmanConnector", "DockerConnectorData"]
