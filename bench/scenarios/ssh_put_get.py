"""ssh_put_get: put_file then get_file of a BENCH_SIZE_MB (default 200) file over SSH.

Environment: BENCH_HOST (required), BENCH_PORT, BENCH_USER, BENCH_KEY,
BENCH_REMOTE_DIR (default /tmp). Also times OpenSSH `scp` both ways on the same run
(`scp_put_mb_s`, `scp_get_mb_s`; BENCH_SCP=0 to skip).
"""

from _common import emit, env_int, env_str, ssh_host, time_openssh_scp, time_put_get

size_mb = env_int("BENCH_SIZE_MB", 200)
remote_dir = env_str("BENCH_REMOTE_DIR", "/tmp")
host, connect_seconds = ssh_host()
result = time_put_get(host, size_mb, remote_dir)
host.disconnect()
# OpenSSH scp on the same run, as the reference (same for both sides).
reference = time_openssh_scp(size_mb, remote_dir) if env_int("BENCH_SCP", 1) else {}
emit({**result, **reference, "connect_seconds": connect_seconds})
