#!/usr/bin/env python3
"""Side by side: the files, git and gpg facts of pyinfra 3.10 and ours, on one target.

    python3 scripts/compare-facts-files.py [--target @local|@docker/NAME] [--json OUT]

It prepares fixtures on the target (files, a directory, links, a socket, a block, a git
repository with a tag and an upstream, a gpg keyring), then runs every applicable fact
with both packages, each in its own interpreter (pyinfra 3.10 from /opt/pyinfra310, ours
from this checkout's .venv), and prints identical/different per fact. Exit status 1 if
any fact differs. Only the standard library is used here.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THEIRS = Path(os.environ.get("PYINFRA310_PYTHON", "/opt/pyinfra310/bin/python"))
OURS = Path(os.environ.get("PYINFRA_OURS_PYTHON", ROOT / ".venv" / "bin" / "python"))

# Run by each interpreter: connect, read every fact, print JSON.
RUNNER = textwrap.dedent(
    """
    import importlib, json, sys
    from datetime import datetime

    from pyinfra.api import Config, Inventory, State

    target, cases = sys.argv[1], json.loads(sys.argv[2])
    inventory = Inventory(([target], {}))
    state = State(inventory, Config())
    host = next(iter(inventory))
    try:  # pyinfra 3.x
        from pyinfra.api.connect import connect_all
        connect_all(state)
    except ImportError:  # ours
        host.connect(raise_exceptions=True)

    def plain(value):
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, set):
            return sorted(plain(v) for v in value)
        return value

    out = {}
    for label, module, name, kwargs in cases:
        fact = getattr(importlib.import_module("pyinfra.facts." + module), name)
        try:
            out[label] = {"value": plain(host.get_fact(fact, **kwargs))}
        except Exception as exc:  # report, keep going
            out[label] = {"error": f"{type(exc).__name__}: {exc}"}
    print("@@RESULT@@" + json.dumps(out))
    """
)


def target_shell(target: str, script: str) -> str:
    if target == "@local":
        argv = ["sh", "-c", script]
    elif target.startswith("@docker/"):
        argv = ["docker", "exec", target.split("/", 1)[1], "sh", "-c", script]
    else:
        raise SystemExit(f"unsupported target {target} (use @local or @docker/NAME)")
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"preparing the target failed: {result.stderr.strip()}")
    return result.stdout


def prepare(target: str, base: str) -> None:
    """Fixtures on the target; every file read once so later reads keep its atime."""
    commit = "git -c user.name=t -c user.email=t@example.com commit -q"
    script = f"""
set -e
rm -rf {base}; mkdir -p {base}/dir/sub {base}/gnupg {base}/keyrings
chmod 700 {base}/gnupg
printf 'alpha\\nbeta\\n\\ngamma PORT=22\\n' > {base}/file.txt
chmod 640 {base}/file.txt
: > {base}/empty.txt
printf 'x\\n# BEGIN PYINFRA BLOCK\\none\\ntwo\\n# END PYINFRA BLOCK\\ny\\n' > {base}/block.txt
printf 'no markers\\n' > {base}/noblock.txt
ln -s file.txt {base}/link
echo inner > {base}/dir/sub/inner.txt
ln -s ../file.txt {base}/dir/inlink
if command -v python3 >/dev/null; then
  python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('{base}/sock')"
fi
cd {base} && git init -q --bare origin.git && git --git-dir=origin.git symbolic-ref HEAD refs/heads/main
git init -q repo && cd repo && git checkout -q -b main && echo one > f && git add f
{commit} -m one && git tag v1 && echo two >> f && {commit} -am two
git remote add origin ../origin.git && git push -q -u origin main 2>/dev/null
git config core.sharedRepository group
export GNUPGHOME={base}/gnupg
gpg --batch --quiet --passphrase '' --quick-gen-key 'Compare <c@example.com>' ed25519 sign never
gpg --batch --quiet --armor --export c@example.com > {base}/key.asc
gpg --batch --quiet --export c@example.com > {base}/keyrings/c.gpg
cp {base}/key.asc {base}/keyrings/c.asc
cat {base}/*.txt {base}/key.asc {base}/keyrings/* {base}/dir/sub/inner.txt >/dev/null
find {base} >/dev/null; ls -R {base} >/dev/null
"""
    target_shell(target, script)


def cases(base: str) -> list[tuple[str, str, str, dict[str, object]]]:
    f = f"{base}/file.txt"
    env = {"_env": {"GNUPGHOME": f"{base}/gnupg"}}
    out: list[tuple[str, str, str, dict[str, object]]] = []
    for name in ("File", "Directory", "Link", "Socket"):
        for path in ("file.txt", "dir", "link", "sock", "missing"):
            out.append((f"files.{name}({path})", "files", name, {"path": f"{base}/{path}"}))
    for name in ("Sha1File", "Sha256File", "Sha384File", "Md5File"):
        for path in ("file.txt", "missing", "dir"):
            out.append((f"files.{name}({path})", "files", name, {"path": f"{base}/{path}"}))
    for path in ("file.txt", "empty.txt", "missing"):
        out.append((f"files.FileContents({path})", "files", "FileContents", {"path": f"{base}/{path}"}))
    for pattern, extended in (("beta", False), ("PORT=[0-9]+", True), ("absent", False)):
        out.append(
            (f"files.FindInFile({pattern})", "files", "FindInFile",
             {"path": f, "pattern": pattern, "extended_regex": extended})
        )  # fmt: skip
    out.append(("files.FindInFile(missing)", "files", "FindInFile",
                {"path": f"{base}/missing", "pattern": "x"}))  # fmt: skip
    for name in ("FindFiles", "FindDirectories", "FindLinks"):
        out.append((f"files.{name}(base)", "files", name, {"path": base}))
    out.append(("files.FindFiles(fname)", "files", "FindFiles", {"path": base, "fname": "*.txt"}))
    out.append(("files.Flags(file)", "files", "Flags", {"path": f}))
    for path in ("block.txt", "noblock.txt", "missing"):
        out.append((f"files.Block({path})", "files", "Block", {"path": f"{base}/{path}"}))
    repo = f"{base}/repo"
    for name, kwargs in (
        ("GitBranch", {"repo": repo}),
        ("GitTag", {"repo": repo}),
        ("GitConfig", {"repo": repo}),
        ("GitTrackingBranch", {"repo": repo}),
        ("GitLocalCommit", {"repo": repo}),
        ("GitLocalCommit", {"repo": repo, "ref": "v1"}),
        ("GitRemoteBranchCommit", {"repo": repo, "branch": "main"}),
        ("GitBranch", {"repo": f"{base}/missing"}),
    ):
        out.append((f"git.{name}({kwargs})", "git", name, kwargs))
    out.append(("gpg.GpgKey(file)", "gpg", "GpgKey", {"src": f"{base}/key.asc", **env}))
    out.append(("gpg.GpgKeys()", "gpg", "GpgKeys", {**env}))
    out.append(("gpg.GpgSecretKeys()", "gpg", "GpgSecretKeys", {**env}))
    out.append(("gpg.GpgKeys(keyring)", "gpg", "GpgKeys", {"keyring": f"{base}/keyrings/c.gpg", **env}))
    out.append(("gpg.GpgKeyrings(dir)", "gpg", "GpgKeyrings", {"directories": [f"{base}/keyrings"], **env}))
    return out


def run_side(python: Path, target: str, todo: list[object]) -> dict[str, dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    with tempfile.TemporaryDirectory(prefix="pyi-files-compare-") as cwd:
        result = subprocess.run(
            [str(python), "-c", RUNNER, target, json.dumps(todo)],
            capture_output=True, text=True, cwd=cwd, env=env, check=False, timeout=600,
        )  # fmt: skip
    for line in result.stdout.splitlines():
        if line.startswith("@@RESULT@@"):
            data: dict[str, dict[str, object]] = json.loads(line[len("@@RESULT@@") :])
            return data
    raise SystemExit(f"{python} failed: {result.stderr.strip()[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="@local")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    base = f"/tmp/pyi-files-compare-{os.getpid()}"
    prepare(args.target, base)
    try:
        todo = [list(case) for case in cases(base)]
        theirs = run_side(THEIRS, args.target, todo)
        ours = run_side(OURS, args.target, todo)
    finally:
        target_shell(args.target, f"rm -rf {shlex.quote(base)}")
    rows = []
    for label, *_ in todo:
        same = theirs.get(str(label)) == ours.get(str(label))
        rows.append({"fact": label, "identical": same, "pyinfra310": theirs.get(str(label)),
                     "ours": ours.get(str(label))})  # fmt: skip
    width = max(len(str(r["fact"])) for r in rows)
    for row in rows:
        status = "identical" if row["identical"] else "DIFFERENT"
        print(f"{str(row['fact']).replace(base, '…'):<{width}}  {status}")
        if not row["identical"]:
            print(f"    pyinfra 3.10: {json.dumps(row['pyinfra310'])[:300]}")
            print(f"    ours:         {json.dumps(row['ours'])[:300]}")
    same = sum(1 for r in rows if r["identical"])
    print(f"\n{same}/{len(rows)} identical on {args.target}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=2))
    return 0 if same == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
