"""Facts about zypper: configured repositories."""

from __future__ import annotations

from pyinfra.facts._rpmrepos import RepoFilesFact


class ZypperRepositories(RepoFilesFact):
    """Repositories of ``/etc/zypp/repos.d``:
    ``[{"repoid": "repo-oss", "name": ..., "baseurl": ..., "filename": ...}]``."""

    requires_command = "zypper"
    patterns = ["/etc/zypp/repos.d/*.repo"]
