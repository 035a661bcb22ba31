"""Run-wide settings. Every attribute can be set by keyword: ``Config(SUDO=True)``.

``REQUIRE_PYINFRA_VERSION`` and ``REQUIRE_PACKAGES`` are checked when they are set
(in ``config.py``: ``config.REQUIRE_PYINFRA_VERSION = ">=3.5"``) and raise a
:class:`~pyinfra.api.exceptions.PyinfraError` that says what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

from pyinfra.api.exceptions import PyinfraError

# The pyinfra release whose API this package implements (requirements written for
# pyinfra are checked against it as well as against this package's own version).
PYINFRA_API_VERSION = "3.10.0"

_DEFAULTS: dict[str, Any] = {
    # Connection
    "CONNECT_TIMEOUT": 10,
    "PARALLEL": 0,  # 0 = automatic
    "FAIL_PERCENT": None,
    "DISCONNECT_TIMEOUT": 10,
    # Execution defaults for connector arguments
    "SHELL": "sh",
    "SUDO": False,
    "SUDO_USER": None,
    "USE_SUDO_LOGIN": False,
    "SUDO_PASSWORD": None,
    "PRESERVE_SUDO_ENV": False,
    "SU_USER": None,
    "USE_SU_LOGIN": False,
    "PRESERVE_SU_ENV": False,
    "SU_SHELL": None,
    "SU_PASSWORD": None,
    "DOAS": False,
    "DOAS_USER": None,
    "ENV": None,
    "TEMP_DIR": "/tmp",
    "DEFAULT_TEMP_DIR": "/tmp",
    "DZDO": False,
    "DZDO_USER": None,
    "DIFF": False,
    # Fact reads: batched re-reads (one command for every wanted fact the cache lacks);
    # prefetching the facts a deploy read last time (None: on in the CLI, off in the
    # API), remembered in FACT_QUERY_CACHE_DIR (None: ~/.cache/pyinfra/fact-queries).
    "FACT_BATCH": True,
    "FACT_PREFETCH": None,
    "FACT_QUERY_CACHE_DIR": None,
    "RETRY": 0,
    "RETRY_DELAY": 5,
    # Deploy behaviour
    "IGNORE_ERRORS": False,
    "REQUIRE_PYINFRA_VERSION": None,
    "REQUIRE_PACKAGES": None,
}


class Config:
    """Settings for one run; unknown upper-case names are allowed (user settings)."""

    CONNECT_TIMEOUT: int | float
    PARALLEL: int
    FAIL_PERCENT: int | None
    DISCONNECT_TIMEOUT: int | float
    SHELL: str | None
    SUDO: bool
    SUDO_USER: str | None
    USE_SUDO_LOGIN: bool
    SUDO_PASSWORD: str | None
    PRESERVE_SUDO_ENV: bool
    SU_USER: str | None
    USE_SU_LOGIN: bool
    PRESERVE_SU_ENV: bool
    SU_SHELL: str | None
    SU_PASSWORD: str | None
    DOAS: bool
    DOAS_USER: str | None
    DZDO: bool
    DZDO_USER: str | None
    DEFAULT_TEMP_DIR: str
    DIFF: bool
    FACT_BATCH: bool
    FACT_PREFETCH: bool | None
    FACT_QUERY_CACHE_DIR: str | None
    REQUIRE_PYINFRA_VERSION: str | None
    REQUIRE_PACKAGES: Any
    ENV: dict[str, str] | None
    TEMP_DIR: str
    RETRY: int
    RETRY_DELAY: int | float
    IGNORE_ERRORS: bool

    def __init__(self, **kwargs: Any) -> None:
        for key, value in _DEFAULTS.items():
            object.__setattr__(self, key, dict(value) if isinstance(value, dict) else value)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        checker = _CHECKERS.get(key)
        if checker is not None:
            checker(value)
        object.__setattr__(self, key, value)

    def copy(self) -> Config:
        return Config(**self.get_current_state())

    def lock_current_state(self) -> None:
        object.__setattr__(self, "_locked", self.get_current_state())

    def reset_locked_state(self) -> None:
        self.set_current_state(getattr(self, "_locked", {}))

    def get_current_state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.isupper()}

    def set_current_state(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        return f"Config({self.get_current_state()!r})"


def _specifier(text: str, what: str) -> Any:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise PyinfraError(f"{what} {text!r} is not a version specifier: {exc}") from exc


def check_pyinfra_version(version: str | None) -> None:
    """Refuse to run when ``version`` (a PEP 440 specifier) excludes this pyinfra."""
    if not version:
        return
    from pyinfra import __version__

    wanted = _specifier(str(version), "REQUIRE_PYINFRA_VERSION")
    if wanted.contains(__version__, prereleases=True) or wanted.contains(
        PYINFRA_API_VERSION, prereleases=True
    ):
        return
    raise PyinfraError(
        f"pyinfra version requirement not met (requires {version}, running {__version__}, "
        f"which implements pyinfra {PYINFRA_API_VERSION})"
    )


def _requirement_lines(requirements: str | Iterable[str]) -> list[str]:
    if isinstance(requirements, str):
        try:
            with open(requirements, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError as exc:
            raise PyinfraError(
                f"REQUIRE_PACKAGES: cannot read requirements file "
                f"{os.path.abspath(requirements)}: {exc.strerror}"
            ) from exc
        return [
            line.split("#egg=")[-1].strip()
            for line in lines
            if line.strip() and not line.lstrip().startswith(("#", "-"))
        ]
    return [str(item) for item in requirements]


def check_require_packages(requirements: str | Iterable[str] | None) -> None:
    """Refuse to run when a required Python package (list or requirements file) is
    missing or at a version that does not match."""
    if not requirements:
        return
    from packaging.requirements import InvalidRequirement, Requirement

    problems: list[str] = []
    for line in _requirement_lines(requirements):
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise PyinfraError(f"REQUIRE_PACKAGES: invalid requirement {line!r}: {exc}") from exc
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{requirement} (not installed)")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            problems.append(f"{requirement} (found {installed})")
    if problems:
        raise PyinfraError(f"deploy requirements not met: {', '.join(problems)}")


_CHECKERS: dict[str, Callable[[Any], None]] = {
    "REQUIRE_PYINFRA_VERSION": check_pyinfra_version,
    "REQUIRE_PACKAGES": check_require_packages,
}
