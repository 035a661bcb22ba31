"""A value shown as a mask everywhere it is printed (pyinfra 3.x's ``HiddenValue``)."""

from __future__ import annotations


class HiddenValue:
    """Holds a secret: ``str()``/``repr()`` give the mask, ``unmask()`` the value."""

    def __init__(self, content: str = "", masked_value: str = "*MASKED*") -> None:
        self.raw_value = content
        self.masked_value = masked_value

    def unmask(self) -> str:
        return self.raw_value

    def __str__(self) -> str:
        return str(self.masked_value)

    def __repr__(self) -> str:
        return repr(self.masked_value)
