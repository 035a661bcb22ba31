"""The ``.repo``-file facts of dnf, yum and zypper (private)."""

from __future__ import annotations

from pyinfra.api.facts import FactBase
from pyinfra.facts._packages import parse_ini_sections

MARKER = "#pyinfra-filename: "


def repo_files_command(patterns: list[str]) -> str:
    return (
        f"for f in {' '.join(patterns)}; do "
        f'if [ -f "$f" ]; then echo "{MARKER}$f"; cat "$f"; echo; fi; done'
    )


class RepoFilesFact(FactBase["list[dict[str, str]]"]):
    """Sections of ``.repo`` files: ``[{"repoid", "name", "filename", key: value...}]``."""

    abstract = True
    patterns: list[str] = []

    @staticmethod
    def default() -> list[dict[str, str]]:
        return []

    def command(self) -> str:
        return repo_files_command(self.patterns)

    def process(self, output: list[str]) -> list[dict[str, str]]:
        return parse_ini_sections(output, MARKER.strip())
