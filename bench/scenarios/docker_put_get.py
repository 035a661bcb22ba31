"""docker_put_get: put_file then get_file of a BENCH_SIZE_MB (default 50) file in a container.

Environment: BENCH_CONTAINER (required, must be running), BENCH_REMOTE_DIR (default /tmp).
"""

from _common import docker_host, emit, env_int, env_str, time_put_get

host, connect_seconds = docker_host()
result = time_put_get(host, env_int("BENCH_SIZE_MB", 50), env_str("BENCH_REMOTE_DIR", "/tmp"))
host.disconnect()
emit({**result, "connect_seconds": connect_seconds})
