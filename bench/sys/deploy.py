"""The issue 14 acceptance deploy, for pyinfra 3.10 and ours alike (same file):
upload a unit, reload systemd if it changed, enable and start the service, set the
host name, a sysctl (persisted), the time zone, a cron entry and an iptables rule."""

import io

from pyinfra.operations import files, iptables, server, systemd

UNIT = b"""[Unit]
Description=pyi-sys bench service
[Service]
ExecStart=/bin/sleep infinity
[Install]
WantedBy=multi-user.target
"""

upload = files.put(
    name="Upload unit", src=io.BytesIO(UNIT), dest="/etc/systemd/system/pyi-bench.service"
)
systemd.daemon_reload(name="Reload systemd", _if=upload.did_change)
systemd.service(name="Start and enable", service="pyi-bench.service", running=True, enabled=True)
server.hostname(name="Host name", hostname="pyi-sys-bench")
server.sysctl(
    name="Forwarding off",
    key="net.ipv4.ip_forward",
    value=0,
    persist=True,
    persist_file="/etc/sysctl.d/99-pyi-bench.conf",
)
server.timezone(name="Time zone", timezone="Europe/Berlin")
server.crontab(name="Cron", command="/usr/bin/true bench", minute=15, cron_name="bench")
iptables.rule(name="Drop 2209", chain="INPUT", jump="DROP", protocol="tcp", destination_port=2209)
