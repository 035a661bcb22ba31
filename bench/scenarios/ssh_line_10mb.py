"""ssh_line_10mb: files.line replacing one line of a BENCH_SIZE_MB (10) MB file over SSH
(the edit, then a no-change run), through the CLI; wall time and the bytes sent/received
(counted by a relay in front of the sshd).

Environment: BENCH_HOST, BENCH_PORT, BENCH_USER, BENCH_KEY, BENCH_SIZE_MB,
BENCH_REMOTE_DIR (/tmp).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from _clirun import run_deploy
from _common import ssh_host
from _relay import ByteRelay

DEPLOY = """\
import os
from pyinfra.operations import files
files.line(path=os.environ["BENCH_PATH"], line="^key50000 = ", replace="key50000 = changed")
"""


def main() -> None:
    size_mb = int(os.environ.get("BENCH_SIZE_MB") or 10)
    remote = os.environ.get("BENCH_REMOTE_DIR", "/tmp").rstrip("/")
    path = f"{remote}/pyi-files-bench-line-{os.getpid()}.conf"
    lines = size_mb * 1024 * 1024 // 100
    # the file, written on the host by the host (not through the relay)
    host, _ = ssh_host()
    ok, output = host.run_shell_command(
        f"awk 'BEGIN {{ for (i = 0; i < {lines}; i++) printf \"key%d = %0{85}d\\n\", i, i }}' "
        f"> {path} && wc -c < {path}"
    )
    if not ok:
        print(json.dumps({"error": f"creating the file failed: {output.stderr}"}))
        return
    size = int(output.stdout.strip())
    result: dict[str, float] = {"size_mb": round(size / 1024 / 1024, 1)}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="pyi-files-bench-") as tmp,
            ByteRelay(os.environ["BENCH_HOST"], int(os.environ.get("BENCH_PORT") or 22)) as relay,
        ):
            for label in ("edit", "second"):
                measured = run_deploy(Path(tmp), relay, DEPLOY, {"BENCH_PATH": path})
                for key, value in measured.items():
                    result[f"{label}_{key}"] = value
        ok, output = host.run_shell_command(f"grep -c '^key50000 = changed$' {path}")
        if not ok or output.stdout.strip() != "1":
            print(json.dumps({"error": "the line was not replaced"}))
            return
    finally:
        host.run_shell_command(f"rm -f {path}")
        host.disconnect()
    result["seconds"] = result["edit_seconds"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
