"""Where a large file is cut into chunks (SPEC §5.1).

A file of ``CHUNKED_FROM`` bytes or more is kept as a recipe over chunks. Where its format is
known (``chunk_formats``: safetensors, zip archives, GGUF) the cuts follow its structure: the
header, each tensor or member, and large tensors in fixed ``PIECE``-sized pieces aligned to the
tensor's start, so a changed slice of an embedding costs one piece. Anything else is cut where
its content says (FastCDC: a gear rolling hash, ``CDC_MIN``–``CDC_MAX`` chunks), so an
insertion changes only the chunks near it. Cuts depend on the bytes alone, never on the file's
name, so that the same bytes always make the same chunks.
"""

from __future__ import annotations

import os
from typing import Iterable

CHUNKED_FROM = 4 << 20  # smaller files stay whole objects
# Large tensors and members are cut in pieces of this size. 4 MiB rather than 1 MiB: a file is
# a few hundred chunks instead of a thousand (fewer index entries and hand-offs between the
# threads that store it), and the storage ratio of a real model and its fine-tune stays the
# same (1.065 on all-MiniLM-L6-v2 with either): a fine-tune rewrites whole tensors. A changed
# slice of an embedding costs one 4 MiB piece.
PIECE = 4 << 20
SMALL = 64 << 10  # neighbouring structural parts smaller than this share a chunk
CDC_MIN = 64 << 10
CDC_AVG = 512 << 10  # 1,900 chunks a GiB (256 KiB: 3,400); 6% end at CDC_MAX (1 MiB: 56%)
CDC_MAX = 1 << 20


def pieces(spans: Iterable[tuple[int, int]], size: int) -> list[int]:
    """Chunk ends for a file of ``size`` bytes made of ``spans`` ((start, end), a header,
    tensors or members, in any order; what lies between them belongs to the span before).

    A span of more than ``PIECE`` bytes is cut every ``PIECE`` bytes from its start; spans
    smaller than ``SMALL`` are joined with their neighbours (never with a large span) so that a
    model of many small tensors does not become as many tiny objects."""
    starts = sorted({s for s, _ in spans if 0 < s < size} | {0})
    ends: list[int] = []
    group_start = None  # the start of a group of small spans not yet closed
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else size
        if end - start >= SMALL:
            if group_start is not None:
                ends.append(start)
                group_start = None
            ends.extend(range(start + PIECE, end, PIECE))
            ends.append(end)
            continue
        if group_start is None:
            group_start = start
        if end - group_start >= SMALL:
            ends.append(end)
            group_start = None
    if not ends or ends[-1] != size:
        ends.append(size)
    return ends


class ContentCutter:
    """Content-defined cuts over a stream, fed in windows (pyfastcdc's compiled FastCDC)."""

    def __init__(self) -> None:
        from pyfastcdc import FastCDC

        self._cdc = FastCDC(CDC_AVG, min_size=CDC_MIN, max_size=CDC_MAX)

    def cut(self, data, final: bool) -> list[int]:
        """Chunk lengths for the start of ``data``: all of it when ``final``, else every chunk
        but the last (whose end depends on bytes not read yet)."""
        lengths = [c.length for c in self._cdc.cut_buf(data)]
        if not final and lengths:
            lengths.pop()
        return lengths


def structural_ends(fd: int, size: int) -> list[int] | None:
    """Chunk ends that follow the file's format, or None when it has none mvc knows (then
    its content decides)."""
    from mvc.core import chunk_formats

    spans = chunk_formats.spans(fd, size)
    return None if spans is None else pieces(spans, size)


class Cuts:
    """Chunk lengths for the data read so far: by the format's structure, else by content."""

    def __init__(self, src_fd: int):
        self.ends = structural_ends(src_fd, os.fstat(src_fd).st_size)
        self.cutter = ContentCutter() if self.ends is None else None
        self.next = 0

    def lengths(self, data: memoryview, at: int, final: bool) -> list[int]:
        """Lengths of the whole chunks at the start of ``data`` (which begins at file offset
        ``at``); with ``final``, all of it."""
        if self.cutter is not None:
            found = self.cutter.cut(data, final) if len(data) else []
        else:
            found, where = [], at
            while self.next < len(self.ends) and self.ends[self.next] <= at + len(data):
                found.append(self.ends[self.next] - where)
                where = self.ends[self.next]
                self.next += 1
            if final and where < at + len(data):  # the file grew: the caller's stat check sees it
                found.append(at + len(data) - where)
        left = len(data) - sum(found)
        while left > PIECE:  # only when the file changed while read: keep the carry bounded
            found.append(PIECE)
            left -= PIECE
        return found

    def block(self, at: int, most: int) -> int:
        """How many bytes to read from file offset ``at``: ``most``, or where the format decides
        the cuts, up to the last chunk end within that, so that no chunk is carried over into
        the next buffer (a copy of half a block on average: 0.07 s of CPU per GiB)."""
        if self.ends is None:
            return most
        import bisect

        i = bisect.bisect_right(self.ends, at + most) - 1
        return self.ends[i] - at if i >= 0 and self.ends[i] > at else most
