"""docker_true: BENCH_N (default 100) sequential `true` commands in a container.

Environment: BENCH_CONTAINER (required) - name or id of an already *running*
container (pyinfra's docker connector commits and removes containers it started).
"""

from _common import docker_host, emit, env_int, time_true_loop

host, connect_seconds = docker_host()
result = time_true_loop(host, env_int("BENCH_N", 100))
host.disconnect()
emit({**result, "connect_seconds": connect_seconds})
