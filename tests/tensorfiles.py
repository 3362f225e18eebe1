"""Writers of real tensor files for tests: safetensors by hand (header + raw bytes), npz
with numpy (a zip of .npy members)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

_DTYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "I32": "<i4", "F16": "<f2", "U8": "u1"}


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int], bytes]] | dict[str, np.ndarray],
                      metadata: dict[str, str] | None = None) -> Path:
    """``tensors`` maps a name to a numpy array, or to (dtype, shape, raw bytes)."""
    header: dict = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name, t in tensors.items():
        if isinstance(t, np.ndarray):
            dtype = next(k for k, v in _DTYPES.items() if np.dtype(v) == t.dtype)
            shape, raw = list(t.shape), np.ascontiguousarray(t).tobytes()
        else:
            dtype, shape, raw = t
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)  # the reference writer pads the header to 8 bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))
    return path


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path
