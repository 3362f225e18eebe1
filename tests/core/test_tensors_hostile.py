"""Hostile tensor files: each one is refused as unreadable, quickly, never an internal error.

The zips are written byte by byte (a central directory listing one member many times, damaged
bz2 and LZMA members, an encrypted flag, an empty name), as a hostile tester wrote them.
"""

from __future__ import annotations

import io
import json
import struct
import time
import zipfile
import zlib

import numpy as np
import pytest

from mvc.core.tensors import UnreadableTensorFile, read_tensors

from support import write
from tensorfiles import write_npz, write_safetensors


def _npy(payload: bytes, header: str | None = None) -> bytes:
    header = header or "{'descr': '|u1', 'fortran_order': False, 'shape': (%d,), }" % len(payload)
    header = header.ljust(117) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def _one_member_zip(data: bytes, name: bytes = b"a.npy", method: int = 0, flags: int = 0) -> bytes:
    """A zip of one member whose bytes are ``data`` as they are (no compression done here)."""
    crc, n = zlib.crc32(data), len(data)
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, method, 0, 0, crc, n, n, len(name), 0)
    cd = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, method, 0, 0, crc, n, n,
                     len(name), 0, 0, 0, 0, 0, 0) + name
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(cd), len(local) + len(name) + n, 0)
    return local + name + data + cd + eocd


def _repeat_first_entry(raw: bytes, copies: int) -> bytes:
    """The zip with its central directory's first entry listed ``copies`` times."""
    e = raw.rfind(b"PK\x05\x06")
    (cd,) = struct.unpack("<L", raw[e + 16:e + 20])
    first_len = 46 + sum(struct.unpack("<3H", raw[cd + 28:cd + 34]))
    first, rest = raw[cd:cd + first_len], raw[cd + first_len:e]
    new = first * copies + rest
    count = copies + rest.count(b"PK\x01\x02")
    return raw[:cd] + new + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(new), cd, 0)


def _zip_bomb(tmp_path, copies: int):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.npy", _npy(bytes(8 << 20)))
        z.writestr("b.npy", _npy(b"\1" * 100))
    return write(tmp_path / "bomb.npz", _repeat_first_entry(buf.getvalue(), copies))


def test_members_listed_many_times_are_refused_before_decompressing(tmp_path):
    p = _zip_bomb(tmp_path, 200)  # 8 KiB on disk, 1.6 GiB if every listing were streamed
    start = time.monotonic()
    with pytest.raises(UnreadableTensorFile, match="overlaps"):
        read_tensors(p, "npz")
    assert time.monotonic() - start < 1


def test_members_that_overlap_without_sharing_an_offset_are_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.npy", _npy(bytes(1000)))
    raw = buf.getvalue()
    # a second central entry pointing into the middle of the first member's bytes
    e = raw.rfind(b"PK\x05\x06")
    (cd,) = struct.unpack("<L", raw[e + 16:e + 20])
    entry = raw[cd:e]
    inner = len(raw[:cd]) // 2
    name = b"b.npy"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
    raw = raw[:inner] + local + raw[inner + len(local):cd]  # a plausible local header in there
    second = entry[:42] + struct.pack("<L", inner) + name
    second = second[:28] + struct.pack("<H", len(name)) + second[30:]
    new = entry + second
    p = write(tmp_path / "o.npz", raw + new + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 2, 2,
                                                          len(new), cd, 0))
    with pytest.raises(UnreadableTensorFile, match="overlaps"):
        read_tensors(p, "npz")


def test_more_declared_bytes_than_the_file_can_hold_is_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_BZIP2) as z:
        with z.open("a.npy", "w") as f:  # bzip2 packs 80 MiB of zeros into a few hundred bytes
            f.write(_npy(b"", "{'descr': '|u1', 'fortran_order': False, 'shape': (%d,), }" % (80 << 20)))
            for _ in range(80):
                f.write(bytes(1 << 20))
    p = write(tmp_path / "z.npz", buf.getvalue())
    with pytest.raises(UnreadableTensorFile, match="too many"):
        read_tensors(p, "npz")


def test_an_honest_npz_still_reads(tmp_path):
    p = write_npz(tmp_path / "ok.npz", w=np.zeros((64, 64), dtype="<f4"), b=np.arange(5))
    assert set(read_tensors(p, "npz")) == {"w", "b"}


def test_an_npy_header_over_64_kib_is_refused(tmp_path):
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), 'x': [%s0]}" % ("0," * 40_000)
    hb = (header + "\n").encode()
    npy = b"\x93NUMPY\x02\x00" + struct.pack("<I", len(hb)) + hb + b"abcd"
    p = write(tmp_path / "h.npz", _one_member_zip(npy))
    with pytest.raises(UnreadableTensorFile, match="limit"):
        read_tensors(p, "npz")


@pytest.mark.parametrize("data, name, method, flags, reason", [  # each was an internal error
    (_npy(b"x"), b"", 0, 0, "empty name"),
    (_npy(b"x"), b"a.npy", 0, 1, "encrypted"),
    (b"\x09\x04\x05\x00" + b"\xff" * 64, b"a.npy", 14, 0, "Invalid"),  # LZMA: lzma.LZMAError
    (b"garbage" * 10, b"a.npy", 12, 0, "decompressed"),  # bzip2: a bare OSError
])
def test_damaged_zip_members_are_unreadable(tmp_path, data, name, method, flags, reason):
    p = write(tmp_path / "m.npz", _one_member_zip(data, name, method, flags))
    with pytest.raises(UnreadableTensorFile, match=reason):
        read_tensors(p, "npz")


def test_a_real_bzip2_member_still_reads(tmp_path):
    with zipfile.ZipFile(tmp_path / "b2.npz", "w", zipfile.ZIP_BZIP2) as z:
        z.writestr("a.npy", _npy(b"abc"))
    got = read_tensors(tmp_path / "b2.npz", "npz")
    assert got["a"].shape == (3,) and got["a"].size == 3


def _safetensors(tmp_path, header: bytes, data: bytes = b"abcd"):
    return write(tmp_path / "m.safetensors", struct.pack("<Q", len(header)) + header + data)


def test_safetensors_metadata_nested_too_deep_is_unreadable(tmp_path):
    meta = b"[" * 10_000 + b"]" * 10_000
    p = _safetensors(tmp_path, b'{"__metadata__": %s, "a": {"dtype": "U8", "shape": [4], '
                               b'"data_offsets": [0, 4]}}' % meta)
    with pytest.raises(UnreadableTensorFile, match="nests"):
        read_tensors(p, "safetensors")


@pytest.mark.parametrize("field", ["name", "dtype"])
def test_a_lone_surrogate_in_a_safetensors_header_is_unreadable(tmp_path, field):
    name, dtype = (r"a\ud800", "U8") if field == "name" else ("a", r"X\udfff")
    p = _safetensors(tmp_path, ('{"%s": {"dtype": "%s", "shape": [4], "data_offsets": [0, 4]}}'
                                % (name, dtype)).encode())
    with pytest.raises(UnreadableTensorFile, match="not valid Unicode"):
        read_tensors(p, "safetensors")


def test_a_lone_surrogate_in_an_npy_descr_is_unreadable(tmp_path):
    p = write(tmp_path / "d.npz", _one_member_zip(_npy(b"x", r"{'descr': '|u1\ud800', "
                                                            r"'fortran_order': False, 'shape': (1,), }")))
    with pytest.raises(UnreadableTensorFile, match="not valid Unicode"):
        read_tensors(p, "npz")


def test_diff_lists_hostile_files_as_unreadable(repo, work):
    """Once an internal error (the surrogate) and a 40-minute run (the repeated listings)."""
    write_safetensors(work / "model" / "m.safetensors", {"a": np.zeros(4, dtype="u1")})
    write_npz(work / "model" / "w.npz", w=np.zeros(4))
    repo("add", "model", "--name", "net")
    header = {"a\ud800": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}  # valid JSON
    _safetensors(work / "model", json.dumps(header, ensure_ascii=True).encode())
    _zip_bomb(work / "model", 300)
    (work / "model" / "bomb.npz").rename(work / "model" / "w.npz")
    repo("add", "model", "--name", "net")
    start = time.monotonic()
    out = repo.json("diff", "net@0.1.0", "net@0.1.1")
    assert time.monotonic() - start < 20
    errors = {u["path"]: u["error"] for u in out["unreadable"]}
    assert set(errors) == {"m.safetensors", "w.npz"}
    assert "not valid Unicode" in errors["m.safetensors"] and "overlaps" in errors["w.npz"]
    assert repo("diff", "net@0.1.0", "net@0.1.1").returncode == 0
