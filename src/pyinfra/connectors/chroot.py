"""The ``@chroot`` connector: run commands and copy files inside a root filesystem tree.

``@chroot//srv/rootfs`` (the argument is the path) or ``chroot_directory`` data. Needs
root on this machine. Each command runs as ``chroot DIR sh -c ...`` (one shell, no
shell outside the tree), with a clean environment (``PATH``, ``HOME=/root``, and the
caller's ``LANG``/``LC_ALL``/``TERM``), in its own process group, so a timeout kills
everything it started.

``/proc``: when the tree has a ``/proc`` directory with nothing mounted on it, each
command runs in a private mount namespace (``unshare --mount --propagation private
--mount-proc=DIR/proc``), so tools that need ``/proc`` work and nothing stays
mounted on the host afterwards; the tree itself is never changed. A tree whose
``/proc`` is already mounted (by you) is used as it is. Likewise, for ``_get_pty`` the
host's ``/dev/pts`` is bind-mounted on the tree's empty ``/dev/pts`` in that private
namespace, so the terminal has a name inside the tree.

Files are copied in and out natively: the path is resolved inside the tree the way
the kernel would after ``chroot`` (symlinks never lead out of it, see
:mod:`pyinfra.connectors.chrootpath`), uploads go to a private temp file in the target
directory and replace the target atomically, keeping its mode and owner. With
``_sudo``/``_su_user``/``_doas`` or ``_chdir`` they stream through a command instead.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from typing import IO, Any

from pyinfra.api.arguments import ResolvedArguments
from pyinfra.api.exceptions import ConnectError, TransferError
from pyinfra.connectors._runner.local import LocalProcess
from pyinfra.connectors._runner.process import Process
from pyinfra.connectors._runner.request import ProcessRequest
from pyinfra.connectors._runner.scripts import script
from pyinfra.connectors._runner.transfer import DownloadTarget, replace_local_file
from pyinfra.connectors.base import ConnectorData, DataMeta
from pyinfra.connectors.chrootpath import resolve_in_root
from pyinfra.connectors.execution import ExecutionConnector

_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PASSED_ENV = ("LANG", "LC_ALL", "TERM")


def _unmounted_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path) and not os.path.ismount(path)


class ChrootConnectorData(ConnectorData, total=False):
    chroot_directory: str
    chroot_path: str


class ChrootConnector(ExecutionConnector):
    """Commands run under ``chroot(8)`` (as root on this machine)."""

    handles_execution = True
    data_cls = ChrootConnectorData
    data_meta = {
        "chroot_directory": DataMeta("Root directory of the tree (@chroot//PATH sets it)"),
        "chroot_path": DataMeta("Alias of chroot_directory"),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.root: str | None = None
        self._chroot: list[str] = []
        self._unshare: list[str] = []  # empty: no unshare(1) on this machine
        self._pts: str | None = None  # DIR/dev/pts to bind-mount for a terminal
        self._mount_proc = False

    @staticmethod
    def make_names_data(name: str | None = None) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        if not name:  # the directory then comes from chroot_directory / chroot_path data
            yield "@chroot", {}, []
            return
        yield f"@chroot/{name}", {"chroot_directory": name}, []

    # Connect -------------------------------------------------------------------

    def connect(self) -> None:
        directory = self.data.get("chroot_directory") or self.data.get("chroot_path")
        if not directory:
            raise ConnectError("no chroot directory: use @chroot//PATH or set chroot_directory")
        if os.geteuid() != 0:
            raise ConnectError(
                "@chroot needs root on this machine (chroot is a root-only system call): "
                f"run pyinfra as root, e.g. `sudo pyinfra @chroot/{directory} ...`"
            )
        path = os.path.abspath(str(directory))
        if not os.path.lexists(path):
            raise ConnectError(f"chroot directory {path} does not exist")
        if not os.path.isdir(path):
            raise ConnectError(f"chroot directory {path} is not a directory")
        root = os.path.realpath(path)
        shell = resolve_in_root(root, "/bin/sh")
        if not os.path.isfile(shell) or not os.access(shell, os.X_OK):
            raise ConnectError(
                f"{path} is not a root filesystem: it has no /bin/sh (make one with "
                "`debootstrap --variant=minbase bookworm DIR` or similar)"
            )
        chroot_bin = shutil.which("chroot") or "/usr/sbin/chroot"
        if not os.access(chroot_bin, os.X_OK):
            raise ConnectError("the chroot command is missing (apt-get install coreutils)")
        self._chroot = [chroot_bin, root]
        self._unshare = []
        self._pts = None
        self._mount_proc = False
        unshare = shutil.which("unshare")
        if unshare:
            self._unshare = [unshare, "--mount", "--propagation", "private"]
            proc = os.path.join(root, "proc")
            if _unmounted_dir(proc):
                self._unshare.append(f"--mount-proc={proc}")
                self._mount_proc = True
            pts = os.path.join(root, "dev", "pts")
            if _unmounted_dir(pts):
                self._pts = pts
        self.root = root

    def disconnect(self) -> None:
        self.root = None

    def _environment(self) -> dict[str, str]:
        env = {"PATH": _PATH, "HOME": "/root"}
        for key in _PASSED_ENV:
            if key in os.environ:
                env[key] = os.environ[key]
        return env

    def start_process(self, request: ProcessRequest) -> Process:
        if self.root is None:
            self.connect()
        argv = [*self._chroot, *request.argv]
        if request.pty and self._pts and self._unshare:
            # the terminal's /dev/pts/N must exist inside the tree: bind-mount it
            # in the command's private mount namespace
            argv = ["sh", "-c", script("bind-pts"), "pyinfra-chroot", self._pts, *argv]
        if self._mount_proc or argv[0] == "sh":
            argv = [*self._unshare, *argv]
        return LocalProcess(
            argv,
            get_pty=request.pty,
            env=self._environment(),
            cwd="/",
        )

    # Files ---------------------------------------------------------------------

    @staticmethod
    def _native(arguments: ResolvedArguments) -> bool:
        """Files are copied from outside the tree unless another user or directory is
        asked (then they stream through a command run inside it)."""
        return not arguments.escalates and not arguments["_chdir"]

    def _host_path(self, remote_filename: str, follow_last: bool) -> str:
        if self.root is None:
            self.connect()
        assert self.root is not None
        return resolve_in_root(self.root, remote_filename, follow_last=follow_last)

    def native_put_file(
        self, filename_or_io: str | IO[Any], remote_filename: str, arguments: ResolvedArguments
    ) -> bool:
        if not self._native(arguments):
            return False
        where = f"{self.host.name}: upload to {remote_filename} failed"
        try:
            dest = self._host_path(remote_filename, follow_last=False)
        except OSError as exc:
            raise TransferError(f"{where}: {exc.strerror or exc}") from exc
        replace_local_file(dest, filename_or_io, where, os.path.dirname(remote_filename))
        return True

    def native_get_file(
        self, remote_filename: str, filename_or_io: str | IO[Any], arguments: ResolvedArguments
    ) -> bool:
        if not self._native(arguments):
            return False
        where = f"{self.host.name}: download of {remote_filename} failed"
        try:
            path = self._host_path(remote_filename, follow_last=True)
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise TransferError(f"{where}: {exc.strerror or exc}") from exc
        source = os.fdopen(fd, "rb")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            source.close()
            raise TransferError(f"{where}: not a regular file")
        with source, DownloadTarget(filename_or_io) as write:
            while chunk := source.read(1 << 20):
                write(chunk)
        return True


__all__ = ["ChrootConnector", "ChrootConnectorData"]
