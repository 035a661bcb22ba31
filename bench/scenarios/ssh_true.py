"""ssh_true: BENCH_N (default 200) sequential `true` commands over SSH.

Environment: BENCH_HOST (required), BENCH_PORT, BENCH_USER, BENCH_KEY.
"""

from _common import emit, env_int, ssh_host, time_true_loop

host, connect_seconds = ssh_host()
result = time_true_loop(host, env_int("BENCH_N", 200))
host.disconnect()
emit({**result, "connect_seconds": connect_seconds})
