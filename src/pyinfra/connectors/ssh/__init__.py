"""The ``@ssh`` connector (the default: a plain host name in an inventory goes here).

``pyinfra.connectors.ssh.SSHConnector`` is the public name; the modules of this package
are its parts: :mod:`.settings` (data keys + ssh_config), :mod:`.config` (the ssh_config
parser), :mod:`.hostkeys` (known_hosts and policies), :mod:`.connect` (one authenticated
transport: proxies, auth, retries), :mod:`.process` (a command on a channel, and killing
it), :mod:`.transfer` (which way bytes move: sftp, scp), :mod:`.sftp` and :mod:`.scp`
(the two protocols) and :mod:`.forward` (port forwarding).
"""

from pyinfra.connectors.ssh.connector import PortForward, SSHConnector, SSHConnectorData

__all__ = ["SSHConnector", "SSHConnectorData", "PortForward"]
