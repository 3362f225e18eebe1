"""The structure of model files, for cutting them into chunks (``chunking``).

Each reader takes an open file and returns its parts as (start, end) byte spans: a
safetensors file's header and tensors, a zip archive's members (PyTorch ``.pt``/``.pth``,
``.npz``, Keras) and its central directory. Only headers and directories are read, with
``os.pread``; nothing is decompressed, unpickled or run (SPEC §10). A file that is not what
its first bytes claim, or whose header is damaged, gets None: its content decides its cuts.
"""

from __future__ import annotations

import json
import os
import struct

Spans = list[tuple[int, int]]
MAX_HEADER = 100 << 20  # safetensors' own limit on its JSON header


def spans(fd: int, size: int) -> Spans | None:
    """The parts of the file at ``fd`` (``size`` bytes), or None when its format is unknown."""
    magic = os.pread(fd, 9, 0)
    try:
        if magic[:4] == b"PK\x03\x04":
            return zip_spans(fd, size)
        if len(magic) == 9 and magic[8:9] == b"{":
            return safetensors_spans(fd, size)
    except (ValueError, OverflowError, struct.error, OSError, EOFError):
        return None
    return None


def safetensors_spans(fd: int, size: int) -> Spans | None:
    """The header (its 8-byte length and its JSON) and each tensor's bytes."""
    (n,) = struct.unpack("<Q", os.pread(fd, 8, 0))
    if n > MAX_HEADER or 8 + n > size:
        return None
    header = json.loads(os.pread(fd, n, 8))
    if not isinstance(header, dict):
        return None
    base = 8 + n
    found: Spans = [(0, base)]
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            return None
        begin, end = offsets
        if not 0 <= begin <= end or base + end > size:
            return None
        found.append((base + begin, base + end))
    return found


def zip_spans(fd: int, size: int) -> Spans | None:
    """Each member (its local header, data and descriptor) and the central directory, as
    the central directory places them (read by zipfile, which decompresses nothing here)."""
    import zipfile

    with os.fdopen(os.dup(fd), "rb") as f:
        try:
            with zipfile.ZipFile(f) as archive:
                starts = [info.header_offset for info in archive.infolist()]
                directory = getattr(archive, "start_dir", None)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError):
            return None
    if not isinstance(directory, int) or not all(0 <= s < size for s in starts):
        return None
    found = sorted(set(starts))
    ends = found[1:] + [directory]
    return [(s, e) for s, e in zip(found, ends) if s <= e] + [(directory, size)]
