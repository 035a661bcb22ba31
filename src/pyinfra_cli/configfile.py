"""``config.py``: run-wide settings written as ``config.SUDO = True`` (pyinfra 3.x).

The file runs with ``pyinfra.config`` pointing at the run's :class:`Config`; top-level
names are ignored (as in pyinfra 3.x). ``REQUIRE_PYINFRA_VERSION``/``REQUIRE_PACKAGES``
are checked as they are set, so a mismatch stops the run before anything connects.
"""

from __future__ import annotations

import os
import traceback

from pyinfra import context
from pyinfra.api.config import Config
from pyinfra.api.exceptions import PyinfraError
from pyinfra_cli.operations import CliError

DEFAULT_CONFIG = "config.py"


def _line_in(exc: BaseException, path: str) -> int | None:
    target = os.path.abspath(path)
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if os.path.abspath(frame.f_code.co_filename) == target:
            line = lineno
    return line


def load_config_file(config: Config, path: str | None) -> str | None:
    """Run the config file into ``config``; returns the path used (``None``: none).

    ``path`` ``None`` means the default ``config.py`` in the current directory, which
    may be absent; a path given with ``--config`` must exist.
    """
    explicit = path is not None
    path = path or DEFAULT_CONFIG
    if not os.path.exists(path):
        if explicit:
            raise CliError(f"--config {path}: no such file")
        return None
    if os.path.isdir(path):
        raise CliError(f"--config {path}: is a directory, not a Python file")
    try:
        with open(path, encoding="utf-8") as handle:
            code = compile(handle.read(), path, "exec")
    except SyntaxError as exc:
        raise CliError(f"syntax error in config file {path}, line {exc.lineno}: {exc.msg}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read config file {path}: {exc}") from exc
    context.set_global("config", config)
    namespace = {"__file__": os.path.abspath(path), "__name__": "__pyinfra_config__"}
    try:
        with context.use(config=config):
            exec(code, namespace)  # noqa: S102 - the user's config file
    except PyinfraError as exc:
        line = _line_in(exc, path)
        where = f"{path}, line {line}" if line else path
        raise CliError(f"config file {where}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - user code: one line naming the file
        line = _line_in(exc, path)
        where = f"{path}, line {line}" if line else path
        raise CliError(f"config file {where} raised {type(exc).__name__}: {exc}") from exc
    return path
