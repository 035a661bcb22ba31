"""ssh_put_get: put_file then get_file of a BENCH_SIZE_MB (default 200) file over SSH.

Environment: BENCH_HOST (required), BENCH_PORT, BENCH_USER, BENCH_KEY,
BENCH_REMOTE_DIR (default /tmp).
"""

from _common import emit, env_int, env_str, ssh_host, time_put_get

host, connect_seconds = ssh_host()
result = time_put_get(host, env_int("BENCH_SIZE_MB", 200), env_str("BENCH_REMOTE_DIR", "/tmp"))
host.disconnect()
emit({**result, "connect_seconds": connect_seconds})
