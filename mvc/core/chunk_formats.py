"""The structure of model files, for cutting them into chunks (``chunking``).

Each reader takes an open file and returns its parts as (start, end) byte spans: a
safetensors file's header and tensors, a zip archive's members (PyTorch ``.pt``/``.pth``,
``.npz``, Keras) and its central directory, a GGUF file's header and tensors. Only headers
and directories are read, with ``os.pread``; nothing is decompressed, unpickled or run
(SPEC §10). A file that is not what
its first bytes claim, or whose header is damaged, gets None: its content decides its cuts.

A hostile header costs bounded memory. Parsed, each JSON value of a safetensors header is a
Python object (an empty ``{}`` of 3 bytes becomes 64), so a header is parsed only when a
pre-scan (its commas, braces and brackets, counted in C) finds at most ``MAX_HEADER_VALUES``
values; a zip's central directory is walked entry by entry, keeping only each member's offset,
and refused past ``MAX_ZIP_MEMBERS`` entries (``zipfile`` makes an object of each); a GGUF
header past ``MAX_GGUF_TENSORS`` tensors, ``MAX_GGUF_KEYS`` keys or ``MAX_GGUF_ITEMS`` strings
and arrays in its metadata. Each bound is far above what real models hold; a file past one is refused here
(``ValueError``), so ``mvc add`` stores it cut by its content and ``mvc diff`` calls it
unreadable.
"""

from __future__ import annotations

import json
import os
import struct
from array import array
from typing import Callable

Spans = list[tuple[int, int]]
MAX_HEADER = 100 << 20  # safetensors' own limit on its JSON header
# A tensor's entry is about 8 values (its object, name, dtype, shape and offsets), so about
# 250,000 tensors; real models hold at most a few thousand a file. With 2^21 values of the
# costliest kind (``{"ab":0}``), mvc add peaks at about 250 MB.
MAX_HEADER_VALUES = 1 << 21
# One member a tensor's storage in a PyTorch checkpoint, one an array in an npz.
MAX_ZIP_MEMBERS = 1 << 17


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


def _header_int(text: str) -> int:
    """A whole number of a safetensors header: offsets and dimensions are 64-bit, so 20 digits
    (Python's own limit, 4,300, came with advice to call one of its functions)."""
    if len(text.lstrip("-")) > 20:
        raise ValueError(f"the header holds a whole number of {len(text.lstrip('-'))} digits, more than a "
                         "64-bit offset or dimension has")
    return int(text)


def safetensors_header(raw: bytes) -> dict:
    """A safetensors file's JSON header (the bytes after its length), parsed once a pre-scan
    has found it plausible: ValueError when it holds more than ``MAX_HEADER_VALUES`` values
    (at most one more than its commas, braces and brackets) or is not a JSON object."""
    values = 1 + raw.count(b",") + raw.count(b"{") + raw.count(b"[")
    if values > MAX_HEADER_VALUES:
        raise ValueError(f"the header holds up to {values} JSON values, more than the "
                         f"{MAX_HEADER_VALUES} a plausible one holds")
    header = json.loads(raw.decode("utf-8"), parse_int=_header_int)  # UTF-8 only, as the format says
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    return header


def safetensors_spans(fd: int, size: int) -> Spans | None:
    """The header (its 8-byte length and its JSON) and each tensor's bytes."""
    (n,) = struct.unpack("<Q", os.pread(fd, 8, 0))
    if n > MAX_HEADER or 8 + n > size:
        return None
    header = safetensors_header(os.pread(fd, n, 8))
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
    the central directory places them."""
    directory, starts = zip_directory(lambda at, n: os.pread(fd, n, at), size)
    if not all(0 <= s < size for s in starts):
        return None
    found = sorted(set(starts))
    ends = found[1:] + [directory]
    return [(s, e) for s, e in zip(found, ends) if s <= e] + [(directory, size)]


_EOCD = struct.Struct("<4s4H2LH")  # signature, disks, entries here, entries, size, offset, comment
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # ... entries here, entries, size, offset
_CD_ENTRY = struct.Struct("<4s6H3L5H2L")  # ... name, extra and comment lengths ... local header offset


def zip_directory(read: Callable[[int, int], bytes], size: int) -> tuple[int, "array[int]"]:
    """Where a zip's central directory starts and each member's local header offset, read as
    ``zipfile`` reads them (the directory found from its end record, zip64 included, offsets
    shifted by any bytes prepended to the archive) but walked entry by entry, keeping one
    integer a member: ValueError past ``MAX_ZIP_MEMBERS`` entries or when damaged.
    ``read(offset, n)`` returns up to ``n`` bytes of the file from ``offset``."""
    tail_at = max(0, size - _EOCD.size - 0xFFFF)
    tail = read(tail_at, size - tail_at)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        raise ValueError("no end of central directory record")
    end_at = tail_at + at
    _, _, _, _, _, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    locator = read(end_at - _ZIP64_LOCATOR.size, _ZIP64_LOCATOR.size) if end_at >= _ZIP64_LOCATOR.size else b""
    start = end_at - cd_size
    if locator[:4] == b"PK\x06\x07":
        record = read(end_at - _ZIP64_LOCATOR.size - _ZIP64_EOCD.size, _ZIP64_EOCD.size)
        if len(record) < _ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
            raise ValueError("a zip64 locator without its record")
        cd_size, cd_offset = _ZIP64_EOCD.unpack(record)[-2:]
        start = end_at - _ZIP64_LOCATOR.size - _ZIP64_EOCD.size - cd_size
    shift = start - cd_offset
    if start < 0 or shift < 0:
        raise ValueError("the central directory lies outside the file")
    cur = _Cursor(read, start + cd_size, start)
    offsets: array[int] = array("Q")
    while cur.at < start + cd_size:
        entry = _CD_ENTRY.unpack(cur.take(_CD_ENTRY.size))
        if entry[0] != b"PK\x01\x02":
            raise ValueError("a damaged central directory entry")
        if len(offsets) >= MAX_ZIP_MEMBERS:
            raise ValueError(f"more than {MAX_ZIP_MEMBERS} members")
        name_len, extra_len, comment_len, offset = entry[10], entry[11], entry[12], entry[16]
        cur.take(name_len)
        extra = cur.take(extra_len)
        cur.take(comment_len)
        if offset == 0xFFFFFFFF:
            offset = _zip64_offset(extra, entry[8] == 0xFFFFFFFF, entry[9] == 0xFFFFFFFF)
        offsets.append(offset + shift)
    return start, offsets


def _zip64_offset(extra: bytes, big_size: bool, big_compressed: bool) -> int:
    """A member's local header offset from its zip64 extra field (after the sizes it holds)."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, at)
        if kind == 1:
            skip = 8 * (big_size + big_compressed)
            return struct.unpack_from("<Q", extra, at + 4 + skip)[0]
        at += 4 + length
    raise ValueError("a zip64 offset without its extra field")


class _Cursor:
    """Reads a header front to back through ``read(offset, n)`` in 1 MiB windows (a
    vocabulary is many small strings), refusing to run past ``limit``."""

    def __init__(self, read: Callable[[int, int], bytes], limit: int, at: int = 0):
        self.read, self.limit, self.at = read, limit, at
        self.window, self.start = b"", at
        self.items = 0  # values counted against a bound by the caller

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > self.limit:
            raise ValueError("a header runs past the end of the file")
        lo = self.at - self.start
        if lo + n > len(self.window):
            self.window, self.start, lo = self.read(self.at, max(n, 1 << 20)), self.at, 0
        data = self.window[lo:lo + n]
        if len(data) != n:
            raise EOFError("short read")
        self.at += n
        return data

    def skip(self, n: int) -> None:
        """Move past ``n`` bytes unread: a length a hostile header claims costs no memory."""
        if n < 0 or self.at + n > self.limit:
            raise ValueError("a header runs past the end of the file")
        self.at += n

    def num(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self, keep: int) -> bytes | None:
        """A string's bytes when it is at most ``keep`` long, else skipped (None)."""
        n = self.num("Q")
        if n > keep:
            self.skip(n)
            return None
        return self.take(n)


# GGUF value types: 0-7, 10-12 are fixed-size scalars (their struct formats); 8 a string, 9 an array
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
MAX_GGUF_ITEMS = 1 << 22  # strings and arrays in all the metadata: a vocabulary has ~10^5
MAX_GGUF_TENSORS = 1 << 18  # real GGUF files hold at most a few thousand
MAX_GGUF_KEYS = 1 << 16  # real ones about fifty


def _gguf_value(cur: _Cursor, kind: int):
    if kind in _GGUF_SCALARS:
        return cur.num(_GGUF_SCALARS[kind])
    if kind == 8:  # no string value is needed: skipped, however long it says it is
        cur.skip(cur.num("Q"))
        return None
    if kind == 9:
        inner, count = cur.num("I"), cur.num("Q")
        if inner in _GGUF_SCALARS:  # skipped whole: a vocabulary's scores need not be parsed
            cur.skip(count * struct.calcsize(_GGUF_SCALARS[inner]))
            return None
        cur.items += count  # each one parsed: the whole header's work is bounded, up front
        if cur.items > MAX_GGUF_ITEMS:
            raise ValueError(f"more than {MAX_GGUF_ITEMS} strings and arrays in the metadata")
        for _ in range(count):
            _gguf_value(cur, inner)
        return None
    raise ValueError(f"unknown GGUF value type {kind}")


def gguf_spans(fd: int, size: int) -> Spans | None:
    """The header (magic, metadata, tensor infos, padding) and where each tensor starts; a
    tensor runs to the next one (its size depends on its quantisation, which is not read)."""
    cur = _Cursor(lambda at, n: os.pread(fd, n, at), size)
    cur.take(4)
    if cur.num("I") not in (2, 3):
        return None
    tensors, kvs = cur.num("Q"), cur.num("Q")
    if tensors > MAX_GGUF_TENSORS or kvs > MAX_GGUF_KEYS:
        return None
    alignment = 32
    for _ in range(kvs):
        key, kind = cur.string(keep=64), cur.num("I")  # only general.alignment is read
        value = _gguf_value(cur, kind)
        if key == b"general.alignment" and isinstance(value, int) and value > 0:
            alignment = value
    offsets = []
    for _ in range(tensors):
        cur.skip(cur.num("Q"))  # its name
        dims = cur.num("I")
        if dims > 8:
            return None
        cur.take(8 * dims + 4)
        offsets.append(cur.num("Q"))
    base = -(-cur.at // alignment) * alignment
    if any(base + o > size for o in offsets):
        return None
    return [(0, base)] + [(base + o, base + o) for o in offsets]
