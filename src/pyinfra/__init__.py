"""pyinfra: infrastructure automation in Python, with a fast and safe connector layer.

Importing this package patches nothing (no gevent, no monkey-patching).
"""

import logging

from pyinfra.context import config, host, inventory, state

__version__ = "3.100.0"

logger = logging.getLogger("pyinfra")
logger.addHandler(logging.NullHandler())

__all__ = ["host", "inventory", "state", "config", "logger", "__version__"]
