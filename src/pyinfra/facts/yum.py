"""Facts about yum: configured repositories."""

from __future__ import annotations

from pyinfra.facts._rpmrepos import RepoFilesFact


class YumRepositories(RepoFilesFact):
    """Repositories of ``/etc/yum.conf`` and ``/etc/yum.repos.d``:
    ``[{"repoid": "base", "name": ..., "baseurl": ..., "filename": ...}]``."""

    requires_command = "yum"
    patterns = ["/etc/yum.conf", "/etc/yum.repos.d/*.repo"]
