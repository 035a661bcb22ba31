"""``pyinfra INVENTORY OPERATIONS...``: the command-line entry point."""

from __future__ import annotations

import sys

from pyinfra_cli.main import main

if __name__ == "__main__":
    main()

__all__ = ["main"]
_ = sys
