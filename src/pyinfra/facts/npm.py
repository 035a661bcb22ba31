"""Facts about npm: packages installed globally or in a project directory."""

from __future__ import annotations

import re

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.facts._packages import PackagesFact, PackageVersions

# "├── npm@10.2.4", "└── @scope/pkg@1.0.0" (npm list --depth=0)
NPM_LINE = re.compile(r"^[├└│─┬\s`+|-]*(?P<name>@?[^@\s]+)@(?P<version>[^\s]+)")


class NpmPackages(PackagesFact):
    """npm packages: global ones, or those of the project in ``directory``:
    ``{"name": {"version"}}`` (scoped names like ``@scope/pkg`` included)."""

    requires_command = "npm"
    pattern = NPM_LINE

    def command(self, directory: str | None = None) -> StringCommand:
        if directory:
            d = QuoteString(directory)
            return StringCommand(
                "!", "test", "-d", d, "||", "(", "cd", d, "&&", "npm", "list", "--depth=0", ")",
                "||", "true",
            )  # fmt: skip
        return StringCommand("npm", "list", "-g", "--depth=0", "||", "true")

    def process(self, output: list[str]) -> PackageVersions:
        return super().process(output[1:] if output else [])
