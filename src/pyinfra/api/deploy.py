"""Deploys: functions that group operations (``@deploy``), and ``add_deploy`` to plan
one on the hosts of a state from a script (pyinfra 3.x's API).

Global arguments given to a deploy call (``install_web(_sudo=True)``) apply to every
operation inside it; ``data_defaults`` are the lowest-priority host data while it runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pyinfra import context
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.operation import ALL_GLOBAL_ARGUMENTS, check_global_argument
from pyinfra.api.planning import plan_on_hosts

if TYPE_CHECKING:
    from pyinfra.api.state import State

R = TypeVar("R")

__all__ = ["deploy", "add_deploy"]


def deploy(
    name: str | None = None, data_defaults: dict[str, Any] | None = None
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorate a function that calls operations as a named deploy: ``@deploy("Web")``."""
    if name is not None and not isinstance(name, str):
        raise PyinfraError(
            "the deploy decorator must be called: write @deploy() or @deploy(\"name\"), "
            "not @deploy"
        )

    def decorator(func: Callable[..., R]) -> Callable[..., R]:
        deploy_name = name or func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> R:
            global_kwargs = {
                k: kwargs.pop(k) for k in list(kwargs) if k in ALL_GLOBAL_ARGUMENTS and k != "name"
            }
            for key, value in global_kwargs.items():
                check_global_argument(key, value, f"deploy {deploy_name}")
            host = context.get("host")
            if host is None:
                return func(*args, **kwargs)
            with host.deploy(deploy_name, global_kwargs, data_defaults):
                return func(*args, **kwargs)

        wrapper._inner = func  # type: ignore[attr-defined]
        wrapper.deploy_name = deploy_name  # type: ignore[attr-defined]
        if data_defaults:
            wrapper.deploy_data = data_defaults  # type: ignore[attr-defined]
        return wrapper

    return decorator


def add_deploy(state: State, deploy_func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Plan ``deploy_func`` on the state's active hosts (or ``host=``, a host or a
    list): its operations read facts and predict changes now; ``run_ops(state)``
    executes them."""
    plan_on_hosts(state, kwargs.pop("host", None), lambda: deploy_func(*args, **kwargs))
