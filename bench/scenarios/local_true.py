"""local_true: BENCH_N (default 200) sequential `true` commands via the local connector."""

from _common import connected_host, emit, env_int, time_true_loop

host, connect_seconds = connected_host("@local")
result = time_true_loop(host, env_int("BENCH_N", 200))
host.disconnect()
emit({**result, "connect_seconds": connect_seconds})
