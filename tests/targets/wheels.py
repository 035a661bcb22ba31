"""Build a small pure-Python wheel without any build backend (offline, no setuptools).

A wheel is a zip of the modules plus a ``NAME-VERSION.dist-info`` folder (METADATA,
WHEEL, entry_points.txt, RECORD with sha256 hashes); ``pip install`` takes it as any
other wheel, so tests can install real packages with real entry points.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path


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
