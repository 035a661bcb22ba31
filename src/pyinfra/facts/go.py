"""Facts about Go: binaries installed with ``go install``."""

from __future__ import annotations

from pyinfra.facts._packages import PackagesFact, PackageVersions, add_version

GO_BINARIES = (
    'BINDIR=$(go env GOBIN); [ -n "$BINDIR" ] || BINDIR="$(go env GOPATH)/bin"; '
    '[ ! -d "$BINDIR" ] || find "$BINDIR" -maxdepth 1 -type f -perm -u+x '
    "-exec go version -m {} + 2>/dev/null; true"
)


class GoPackages(PackagesFact):
    """Binaries ``go install`` put in ``GOBIN``/``GOPATH/bin``, keyed by package path:
    ``{"github.com/example/tool": {"v1.2.3"}}`` (development builds are left out)."""

    requires_command = "go"

    def command(self) -> str:
        return GO_BINARIES

    def process(self, output: list[str]) -> PackageVersions:
        packages: PackageVersions = {}
        path: str | None = None
        for line in output:
            parts = line.strip().split("\t") if line.startswith("\t") else line.split()
            if not line.startswith("\t"):
                path = None
            elif parts[0] == "path" and len(parts) > 1:
                path = parts[1]
            elif parts[0] == "mod" and len(parts) > 2 and path and parts[2].startswith("v"):
                add_version(packages, path, parts[2])
        return packages
