"""Build a small pure-Python wheel without any build backend (offline, no setuptools).

A wheel is a zip of the modules plus a ``NAME-VERSION.dist-info`` folder (METADATA,
WHEEL, entry_points.txt, RECORD with sha256 hashes); ``pip install`` takes it as any
other wheel, so tests can install real packages with real entry points.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import site
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

import pyinfra


def _hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(
    out_dir: Path,
    name: str,
    version: str,
    modules: Mapping[str, str],
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write ``out_dir/NAME-VERSION-py3-none-any.whl``.

    ``modules`` maps a file path inside the wheel (``pkg.py``, ``pkg/__init__.py``) to
    its source; ``entry_points`` maps a group to ``{name: "module:attr"}``.
    """
    norm = re.sub(r"[-_.]+", "_", name).lower()
    dist_info = f"{norm}-{version}.dist-info"
    files: dict[str, bytes] = {path: text.encode() for path, text in modules.items()}
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    ).encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: pyinfra-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    if entry_points:
        text = ""
        for group, items in entry_points.items():
            text += f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items()) + "\n"
        files[f"{dist_info}/entry_points.txt"] = text.encode()
    record = "".join(f"{path},{_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{norm}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


def child_venv(venv: Path) -> Path:
    """A new virtualenv at ``venv`` that also sees this interpreter's packages (pyinfra,
    pytest, paramiko...; ``.pth`` files included), so packages installed into it are
    the only difference; its python. Skips when virtualenvs cannot be made here."""
    created = subprocess.run(
        [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True
    )
    if created.returncode != 0:
        pytest.skip(f"cannot create a virtualenv (apt-get install python3-venv): {created.stderr}")
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parents = dict.fromkeys(
        [
            *site.getsitepackages(),
            sysconfig.get_paths()["purelib"],
            str(Path(pyinfra.__file__).resolve().parents[1]),
        ]
    )
    lines = [f"import site; site.addsitedir({p!r})" for p in parents if os.path.isdir(p)]
    (Path(purelib) / "_pyinfra_test_parent.pth").write_text("\n".join(lines) + "\n")
    return python


def pip_install(python: Path, wheel: Path) -> None:
    """Install ``wheel`` into the virtualenv of ``python`` (offline, no dependencies)."""
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
