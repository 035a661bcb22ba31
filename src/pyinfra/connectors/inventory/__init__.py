"""Helpers of the connectors that only generate inventory (``@terraform``, ``@vagrant``).

:mod:`.base` has :class:`InventoryOnlyConnector`, the base class of such connectors;
:mod:`.hostlist` turns a tool's value into host entries; :mod:`.tool` runs a local
command-line tool; :mod:`.vagrantparse` reads vagrant's machine-readable output.
"""

from pyinfra.connectors.inventory.base import InventoryOnlyConnector

__all__ = ["InventoryOnlyConnector"]
