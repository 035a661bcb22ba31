"""Render Jinja2 templates for ``files.template`` with errors that name file and line."""

from __future__ import annotations

import os
import traceback
from typing import IO, Any

import jinja2

from pyinfra.operations.util import fail


def _template_line(exc: BaseException) -> int | None:
    """The template line an exception was raised on (Jinja2 rewrites its frames)."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename in ("<template>",) or frame.f_globals.get("__jinja_template__"):
            line = lineno
    return line


def render_template(
    op: str, src: str | IO[Any], variables: dict[str, Any], env_kwargs: dict[str, Any]
) -> bytes:
    """Render ``src`` (a path or a file object) to bytes (UTF-8)."""
    if isinstance(src, str):
        label = src
        search = [os.path.dirname(os.path.abspath(src)), os.getcwd()]
        try:
            with open(src, encoding="utf-8") as handle:
                source = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(op, f"cannot read template {src}: {exc}") from exc
    else:
        label = getattr(src, "name", None) or "<template object>"
        search = [os.getcwd()]
        if hasattr(src, "seek"):
            src.seek(0)
        raw = src.read()
        source = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    options: dict[str, Any] = {
        "undefined": jinja2.StrictUndefined,
        "keep_trailing_newline": True,
        "loader": jinja2.FileSystemLoader(search),
    }
    options.update(env_kwargs)
    try:
        environment = jinja2.Environment(**options)  # noqa: S701 - config files, not HTML
    except TypeError as exc:
        raise fail(op, f"argument jinja_env_kwargs is invalid: {exc}") from exc
    try:
        template = environment.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename if exc.filename and exc.filename != "<template>" else label
        raise fail(
            op, f"template syntax error in {where}, line {exc.lineno}: {exc.message}"
        ) from exc
    try:
        text = template.render(**variables)
    except jinja2.TemplateSyntaxError as exc:  # in an included template
        raise fail(
            op,
            f"template syntax error in {exc.filename or label}, line {exc.lineno}: {exc.message}",
        ) from exc
    except Exception as exc:  # noqa: BLE001 - undefined variables, errors in filters...
        line = _template_line(exc)
        where = f"{label}, line {line}" if line else label
        raise fail(op, f"error rendering template {where}: {type(exc).__name__}: {exc}") from exc
    return text.encode("utf-8")
