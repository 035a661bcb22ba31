"""Facts about pip: the Python packages a ``pip`` (system, user or virtualenv) sees."""

from __future__ import annotations

import re

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.facts._packages import PackagesFact

# "name==version" lines of pip freeze (editable installs and URL references skipped).
# As in pyinfra 3.x, versions with a local label ("20.17.1+ds") are left out.
PIP_FREEZE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_.+-]+)==(?P<version>[0-9][0-9A-Za-z.!_-]*)$")


class PipPackages(PackagesFact):
    """Packages ``pip freeze --all`` lists: ``{"name": {"version"}}`` (names as pip
    prints them). ``pip`` is the pip program (default ``pip``), e.g. a virtualenv's
    ``/srv/venv/bin/pip``."""

    pattern = PIP_FREEZE_LINE
    default_pip = "pip"

    def requires_command(self, pip: str | None = None) -> str:
        return pip or self.default_pip

    def command(self, pip: str | None = None) -> StringCommand:
        return StringCommand(QuoteString(pip or self.default_pip), "freeze", "--all")


class Pip3Packages(PipPackages):
    """As :class:`PipPackages`, with ``pip3`` by default."""

    default_pip = "pip3"
