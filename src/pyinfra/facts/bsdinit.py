"""BSD rc.d services (``/etc/rc.d``, ``/usr/local/etc/rc.d``) and whether they run."""

from __future__ import annotations

from pyinfra.facts.sysvinit import InitdStatus


class RcdStatus(InitdStatus):
    """``{script: running}`` for every rc.d script, from ``SCRIPT status`` (``check``
    on OpenBSD): ``True`` (0), ``False`` (1-3), ``None`` (other codes)."""

    def command(self) -> str:
        return (
            "for s in $(find /etc/rc.d /usr/local/etc/rc.d -type f 2>/dev/null); do "
            '"$s" status >/dev/null 2>&1 || "$s" check >/dev/null 2>&1; '
            'echo "${s##*/}=$?"; done'
        )
