"""``pyinfra --support``: what to paste into a bug report."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from pyinfra import __version__
from pyinfra.api.config import PYINFRA_API_VERSION

_PACKAGES = ("paramiko", "click", "rich", "jinja2", "packaging", "cryptography")


def support_text() -> str:
    lines = [
        "If you are having issues with pyinfra or wish to make feature requests, include",
        "the following in your report:",
        "",
        "    --> System info",
        f"        Platform: {platform.system()}",
        f"        Release: {platform.release()}",
        f"        Machine: {platform.machine()}",
        f"        Python: {platform.python_implementation()} {platform.python_version()}",
        f"        Executable: {sys.executable}",
        f"        pyinfra: v{__version__} (implements pyinfra {PYINFRA_API_VERSION})",
        "",
        "    --> Installed packages",
    ]
    for name in _PACKAGES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "not installed"
        lines.append(f"        {name}: {version}")
    return "\n".join(lines)
