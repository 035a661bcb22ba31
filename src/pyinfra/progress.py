"""Progress reporting hooks. The library draws nothing; the CLI installs a renderer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

ProgressFactory = Callable[[list[Any]], contextlib.AbstractContextManager[Callable[[Any], None]]]
_factory: ProgressFactory | None = None


def set_progress_factory(factory: ProgressFactory | None) -> None:
    global _factory
    _factory = factory


@contextlib.contextmanager
def progress_spinner(
    items: Iterable[Any],
    prefix_message: str | None = None,
) -> Iterator[Callable[[Any], None]]:
    """Yield ``progress(item)`` to call as each item completes.

    Renders nothing unless the CLI (on a terminal) installed a renderer.
    """
    item_list = list(items)
    if _factory is None:
        yield lambda item: None
        return
    with _factory(item_list) as progress:
        yield progress
