"""upstart jobs and whether they run (``initctl list``)."""

from __future__ import annotations

import re

from pyinfra.api.facts import FactBase

# "ssh start/running, process 1234" / "tty1 stop/waiting" (pyinfra 3.10 only took
# names of letters and dashes, losing tty1...)
_JOB_LINE = re.compile(r"^([A-Za-z0-9_.\-]+) [a-z]+/([a-z]+)")


class UpstartStatus(FactBase["dict[str, bool]"]):
    """``{job: running}`` for the upstart jobs (``initctl list``)."""

    requires_command = "initctl"

    @staticmethod
    def default() -> dict[str, bool]:
        return {}

    def command(self) -> str:
        return "initctl list"

    def process(self, output: list[str]) -> dict[str, bool]:
        jobs = {}
        for line in output:
            match = _JOB_LINE.match(line)
            if match:
                jobs[match.group(1)] = match.group(2) == "running"
        return jobs
