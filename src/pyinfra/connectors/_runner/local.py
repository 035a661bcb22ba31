"""A command on this machine as an execloop ``Process`` (pipes or a pty)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import termios
import threading

_CHUNK = 65536


class LocalProcess:
    """``subprocess.Popen`` in its own session so a kill reaches the whole tree."""

    def __init__(
        self,
        argv: list[str],
        get_pty: bool = False,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self._closed_stdin = False
        self._lock = threading.Lock()
        self.has_stderr = not get_pty
        self._master: int | None = None
        if get_pty:
            import pty

            master, slave = pty.openpty()
            attrs = termios.tcgetattr(slave)
            attrs[3] &= ~termios.ECHO  # never echo stdin (passwords) back into the output
            termios.tcsetattr(slave, termios.TCSANOW, attrs)
            try:
                self.popen = subprocess.Popen(
                    argv,
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    start_new_session=True,
                    env=env,
                    cwd=cwd,
                    close_fds=True,
                )
            finally:
                os.close(slave)
            self._master = master
            self._out_fd = master
            self._err_fd = -1
        else:
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env=env,
                cwd=cwd,
                close_fds=True,
            )
            assert self.popen.stdout is not None and self.popen.stderr is not None
            self._out_fd = self.popen.stdout.fileno()
            self._err_fd = self.popen.stderr.fileno()

    def read_stdout(self) -> bytes:
        try:
            return os.read(self._out_fd, _CHUNK)
        except OSError:  # EIO on a pty once the child has gone
            return b""

    def read_stderr(self) -> bytes:
        if self._err_fd < 0:
            return b""
        return os.read(self._err_fd, _CHUNK)

    def write_stdin(self, data: bytes) -> None:
        if self._master is not None:
            os.write(self._master, data)
            return
        assert self.popen.stdin is not None
        self.popen.stdin.write(data)
        self.popen.stdin.flush()

    def close_stdin(self) -> None:
        with self._lock:
            if self._closed_stdin:
                return
            self._closed_stdin = True
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.write(self._master, b"\x04")
            return
        assert self.popen.stdin is not None
        with contextlib.suppress(OSError):
            self.popen.stdin.close()

    def wait(self, timeout: float | None) -> int | None:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._cleanup()
        return code

    def kill(self) -> None:
        pid = self.popen.pid
        try:
            os.killpg(pid, signal.SIGKILL)
        except PermissionError:
            # An escalated child (sudo) we may not signal: sudo relays SIGTERM to it.
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def _cleanup(self) -> None:
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()

    def close(self) -> None:
        """Release the pipes / pty once the readers are done."""
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._master is not None:
            master, self._master = self._master, None
            with contextlib.suppress(OSError):
                os.close(master)
