"""``pyinfra_cli.log.setup_logging``: what scripts and frameworks built on pyinfra 3.x
call to see pyinfra's log messages on the terminal."""

from __future__ import annotations

import logging

from pyinfra_cli.render import MessageHandler, Renderer


def setup_logging(log_level: int, other_log_level: int | None = None) -> None:
    """Show the ``pyinfra`` logger's messages from ``log_level`` up (and other
    libraries' from ``other_log_level``, when given)."""
    if other_log_level:
        logging.basicConfig(level=other_log_level)
    logger = logging.getLogger("pyinfra")
    logger.setLevel(log_level)
    for handler in list(logger.handlers):
        if isinstance(handler, MessageHandler):
            logger.removeHandler(handler)
    handler = MessageHandler(Renderer(verbosity=2 if log_level <= logging.INFO else 0))
    handler.setLevel(log_level)
    logger.addHandler(handler)
    logger.propagate = False
