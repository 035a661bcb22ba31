"""ssh_rsync_sync: files.rsync vs files.sync of a BENCH_FILES (1000) file tree over SSH,
first run and no-change run, through the CLI; wall time and the bytes sent/received
(counted by a relay in front of the sshd).

Environment: BENCH_HOST, BENCH_PORT, BENCH_USER, BENCH_KEY (as ssh_true), BENCH_FILES,
BENCH_REMOTE_DIR (/tmp).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from _clirun import run_deploy
from _relay import ByteRelay

DEPLOY = """\
import os
from pyinfra.operations import files
operation = getattr(files, os.environ["BENCH_OP"])
operation(src=os.environ["BENCH_SRC"] + "/", dest=os.environ["BENCH_DEST"])
"""


def make_tree(root: Path, count: int) -> None:
    for index in range(count):
        folder = root / f"dir{index % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{index:04d}.txt").write_text(f"file {index}\n" + "x" * 2000 + "\n")


def main() -> None:
    count = int(os.environ.get("BENCH_FILES") or 1000)
    remote = os.environ.get("BENCH_REMOTE_DIR", "/tmp").rstrip("/")
    host, port = os.environ["BENCH_HOST"], int(os.environ.get("BENCH_PORT") or 22)
    result: dict[str, float] = {"files": count}
    with (
        tempfile.TemporaryDirectory(prefix="pyi-files-bench-") as tmp,
        ByteRelay(host, port) as relay,
    ):
        workdir = Path(tmp)
        src = workdir / "tree"
        make_tree(src, count)
        for op in ("rsync", "sync"):
            dest = f"{remote}/pyi-files-bench-{op}-{os.getpid()}"
            env = {"BENCH_OP": op, "BENCH_SRC": str(src), "BENCH_DEST": dest}
            try:
                for label in ("first", "second"):
                    measured = run_deploy(workdir, relay, DEPLOY, env)
                    for key, value in measured.items():
                        result[f"{op}_{label}_{key}"] = value
            finally:
                if host.startswith("127."):
                    shutil.rmtree(dest, ignore_errors=True)
    result["seconds"] = result["rsync_first_seconds"] + result["rsync_second_seconds"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
