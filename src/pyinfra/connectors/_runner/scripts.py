"""The shell scripts that connectors run on targets, kept as ``scripts/*.sh`` files.

They are plain POSIX ``sh`` (checked by shellcheck in CI: ``scripts/test.sh``), run as
``sh -c SCRIPT NAME ARGS...``, so ``$1``... are their arguments. Full-line comments
(explanations, shellcheck directives) are dropped when a script is loaded: they would
only add bytes to every command sent.
"""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def script(name: str) -> str:
    """The text of ``scripts/NAME.sh`` without its comment lines."""
    text = resources.files(__package__).joinpath("scripts", f"{name}.sh").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return "\n".join(lines).strip("\n") + "\n"
