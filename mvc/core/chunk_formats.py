"""The structure of model files, for cutting them into chunks (``chunking``).

Each reader takes an open file and returns its parts as (start, end) byte spans: a
safetensors file's header and tensors, a zip archive's members (PyTorch ``.pt``/``.pth``,
``.npz``, Keras) and its central directory, a GGUF file's header and tensors. Only headers
and directories are read, with ``os.pread``; nothing is decompressed, unpickled or run
(SPEC §10). A file that is not what
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
        if magic[:4] == b"GGUF":
            return gguf_spans(fd, size)
        if len(magic) == 9 and magic[8:9] == b"{":
            return safetensors_spans(fd, size)
    except (ValueError, OverflowError, struct.error, OSError, EOFError, RecursionError):
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


class _Cursor:
    """Reads a header front to back through ``os.pread`` in 1 MiB windows (a vocabulary is
    many small strings), refusing to run past ``limit``."""

    def __init__(self, fd: int, limit: int):
        self.fd, self.limit, self.at = fd, limit, 0
        self.window, self.start = b"", 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > self.limit:
            raise ValueError("a header runs past the end of the file")
        lo = self.at - self.start
        if lo + n > len(self.window):
            self.window, self.start, lo = os.pread(self.fd, max(n, 1 << 20), self.at), self.at, 0
        data = self.window[lo:lo + n]
        if len(data) != n:
            raise EOFError("short read")
        self.at += n
        return data

    def num(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> bytes:
        return self.take(self.num("Q"))


# GGUF value types: 0-7, 10-12 are fixed-size scalars (their struct formats); 8 a string, 9 an array
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
MAX_GGUF_ITEMS = 1 << 24


def _gguf_value(cur: _Cursor, kind: int):
    if kind in _GGUF_SCALARS:
        return cur.num(_GGUF_SCALARS[kind])
    if kind == 8:
        return cur.string()
    if kind == 9:
        inner, count = cur.num("I"), cur.num("Q")
        if count > MAX_GGUF_ITEMS:
            raise ValueError("an array too long")
        if inner in _GGUF_SCALARS:  # skipped whole: a vocabulary's scores need not be parsed
            cur.take(count * struct.calcsize(_GGUF_SCALARS[inner]))
            return None
        for _ in range(count):
            _gguf_value(cur, inner)
        return None
    raise ValueError(f"unknown GGUF value type {kind}")


def gguf_spans(fd: int, size: int) -> Spans | None:
    """The header (magic, metadata, tensor infos, padding) and where each tensor starts; a
    tensor runs to the next one (its size depends on its quantisation, which is not read)."""
    cur = _Cursor(fd, size)
    cur.take(4)
    if cur.num("I") not in (2, 3):
        return None
    tensors, kvs = cur.num("Q"), cur.num("Q")
    if tensors > MAX_GGUF_ITEMS or kvs > MAX_GGUF_ITEMS:
        return None
    alignment = 32
    for _ in range(kvs):
        key, kind = cur.string(), cur.num("I")
        value = _gguf_value(cur, kind)
        if key == b"general.alignment" and isinstance(value, int) and value > 0:
            alignment = value
    offsets = []
    for _ in range(tensors):
        cur.string()
        dims = cur.num("I")
        if dims > 8:
            return None
        cur.take(8 * dims + 4)
        offsets.append(cur.num("Q"))
    base = -(-cur.at // alignment) * alignment
    if any(base + o > size for o in offsets):
        return None
    return [(0, base)] + [(base + o, base + o) for o in offsets]
