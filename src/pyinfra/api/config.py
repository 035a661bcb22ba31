"""Run-wide settings. Every attribute can be set by keyword: ``Config(SUDO=True)``."""

from __future__ import annotations

from typing import Any

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
    ENV: dict[str, str] | None
    TEMP_DIR: str
    RETRY: int
    RETRY_DELAY: int | float
    IGNORE_ERRORS: bool

    def __init__(self, **kwargs: Any) -> None:
        for key, value in _DEFAULTS.items():
            setattr(self, key, dict(value) if isinstance(value, dict) else value)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_current_state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.isupper()}

    def set_current_state(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        return f"Config({self.get_current_state()!r})"
