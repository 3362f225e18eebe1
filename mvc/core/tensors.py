"""Tensor listings of ``.safetensors`` and ``.npz`` files, read from headers and byte ranges.

Nothing here loads a framework or unpickles anything: a safetensors file is an 8-byte
little-endian header length, a JSON header (``{name: {dtype, shape, data_offsets}}`` plus an
optional ``__metadata__``) and a data buffer; an npz file is a zip of ``.npy`` members, each a
magic string, a version, a header length, a Python-literal header dict (parsed with
``ast.literal_eval``, which evaluates literals only) and the array bytes. Each tensor's digest
is the SHA-256 of its bytes, hashed in chunks straight from the file. Object-dtype npy members
hold pickles: their bytes are hashed, never interpreted.

A hostile file costs bounded work: safetensors tensors whose bytes overlap are refused before
any is hashed, an npz whose members overlap (a zip bomb's trick of listing one compressed
stream many times) or that declares more bytes than ``MAX_ZIP_RATIO`` times its size plus
``ZIP_ALLOWANCE`` is refused before anything is decompressed, an ``.npy`` header is at
most ``MAX_NPY_HEADER`` bytes (numpy's own limit is 10,000) and all of an npz's at most
``MAX_NPY_HEADERS``, and every way a damaged header or
member fails (nesting too deep, an undecodable stream, an encrypted member, a name that is not
valid Unicode) is an ``UnreadableTensorFile``. So is a safetensors header that holds more JSON
values than ``chunk_formats.MAX_HEADER_VALUES`` or an npz of more than
``chunk_formats.MAX_ZIP_MEMBERS`` members, refused before either is parsed into Python objects
(which would take 20 times their bytes).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mvc.core.chunk_formats import safetensors_header, zip_directory

CHUNK = 1 << 20
MAX_HEADER = 100 << 20  # the safetensors reference implementation's limit
MAX_NPY_HEADER = 64 << 10  # numpy refuses headers over 10,000 bytes unless told otherwise
# all the .npy headers of an npz together: ast parses a crafted 64 KiB one in 44 ms, so
# 100,000 members of a 30 MB file would take over an hour, and 4 MiB of them 3 s; numpy writes
# 128 bytes a member, so 32,768 members fit
MAX_NPY_HEADERS = 4 << 20
MAX_ZIP_RATIO = 1100  # deflate never expands data more than 1032 times
ZIP_ALLOWANCE = 64 << 20  # bytes any npz may declare beyond MAX_ZIP_RATIO times its size
NPY_MAGIC = b"\x93NUMPY"
ZIP_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... name length, extra length

try:  # zipfile's own decoders; a Python built without lzma has no LZMA members to read
    from lzma import LZMAError
except ImportError:  # pragma: no cover
    class LZMAError(Exception):
        pass

# bytes per element of the safetensors dtypes whose size is a whole number of bytes
_SAFETENSORS_ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
    "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
    "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8, "C64": 8,
}


class UnreadableTensorFile(Exception):
    """A tensor file whose header is truncated or malformed (reported, never fatal)."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    digest: str  # sha256 of the tensor's bytes
    size: int = 0  # bytes the tensor holds in the file


def tensor_format(path: str) -> str | None:
    """``safetensors``, ``npz`` or None, by the file name."""
    lower = path.lower()
    if lower.endswith(".safetensors"):
        return "safetensors"
    if lower.endswith(".npz"):
        return "npz"
    return None


def read_tensors(path: Path | BinaryIO, fmt: str) -> dict[str, TensorInfo]:
    """The tensors of a file (a path, or a seekable binary file such as a chunked object read
    in place), by name; UnreadableTensorFile when it is not what it claims."""
    if isinstance(path, (str, os.PathLike)):
        with open(path, "rb") as f:
            return read_tensors(f, fmt)
    try:
        if fmt == "safetensors":
            return _read_safetensors(path)
        if fmt == "npz":
            return _read_npz(path)
    except UnreadableTensorFile:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, LZMAError, EOFError,
            NotImplementedError) as exc:
        raise UnreadableTensorFile(f"not a readable zip archive ({exc})") from None
    except (ValueError, OverflowError, struct.error) as exc:
        raise UnreadableTensorFile(f"malformed ({exc})") from None
    raise ValueError(f"unknown tensor format {fmt!r}")


def _hash_range(f: BinaryIO, start: int, length: int) -> str:
    f.seek(start)
    h = hashlib.sha256()
    left = length
    while left > 0:
        chunk = f.read(min(CHUNK, left))
        if not chunk:
            raise UnreadableTensorFile("truncated: the data ends before a tensor's last byte")
        h.update(chunk)
        left -= len(chunk)
    return "sha256:" + h.hexdigest()


def _is_shape(value) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value)


def _read_safetensors(f: BinaryIO) -> dict[str, TensorInfo]:
    size = f.seek(0, os.SEEK_END)
    f.seek(0)
    head = f.read(8)
    if len(head) < 8:
        raise UnreadableTensorFile(f"truncated: {len(head)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", head)
    if n > MAX_HEADER:
        raise UnreadableTensorFile(f"header length {n} is larger than the {MAX_HEADER}-byte limit")
    if 8 + n > size:
        raise UnreadableTensorFile(f"truncated: header of {n} bytes but the file has {size} bytes")
    raw = f.read(n)
    try:
        header = safetensors_header(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UnreadableTensorFile("the header is not valid UTF-8 JSON") from None
    except RecursionError:
        raise UnreadableTensorFile("the header nests too deeply") from None
    except ValueError as exc:  # too many values to parse, not an object, an integer too long
        raise UnreadableTensorFile(str(exc)) from None
    data_start = 8 + n
    data_size = size - data_start
    found: list[tuple[int, int, str, str, tuple[int, ...]]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict):
            raise UnreadableTensorFile(f"tensor {_short(name)}: its header entry is not an object")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or not _is_shape(shape):
            raise UnreadableTensorFile(f"tensor {_short(name)}: dtype or shape is missing or invalid")
        _check_unicode(name, dtype)
        if not (isinstance(offsets, list) and len(offsets) == 2 and _is_shape(offsets)
                and offsets[0] <= offsets[1]):
            raise UnreadableTensorFile(f"tensor {_short(name)}: data_offsets is invalid")
        begin, end = offsets
        if end > data_size:
            raise UnreadableTensorFile(
                f"truncated: tensor {_short(name)} ends at byte {end} of a {data_size}-byte data buffer")
        itemsize = _SAFETENSORS_ITEMSIZE.get(dtype)
        if itemsize is not None and _elements(shape, end - begin) * itemsize != end - begin:
            raise UnreadableTensorFile(
                f"tensor {_short(name)}: {end - begin} bytes do not hold a {dtype} tensor "
                f"of shape {_short(shape)}")
        found.append((begin, end, name, dtype, tuple(shape)))
    _check_disjoint(found, data_size)
    return {name: TensorInfo(name, dtype, shape, _hash_range(f, data_start + begin, end - begin), end - begin)
            for begin, end, name, dtype, shape in found}


def _short(value: str | list[int]) -> str:
    """A name (quoted, as repr quotes it) or a shape for a message, cut at 60 characters: a
    header may hold a name or a shape of megabytes."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _elements(shape: list[int], limit: int) -> int:
    """How many elements a shape holds, or ``limit + 1`` once the product passes ``limit``: a
    shape of thousands of 4,000-digit numbers would otherwise take minutes to multiply out."""
    if 0 in shape:
        return 0
    count = 1
    for dim in shape:
        count *= dim
        if count > limit:
            return limit + 1
    return count


def _check_disjoint(found: list[tuple[int, int, str, str, tuple[int, ...]]], data_size: int) -> None:
    """Refuse tensors whose bytes overlap, or leave bytes of the data buffer to no tensor (the
    safetensors reference implementation refuses both): a thousand tensors each naming the
    whole buffer would make hashing them cost a thousand times the file, and bytes no tensor
    names (a gap, a tail, a duplicate key's dropped entry) would change unseen by diff."""
    end = 0
    for begin, stop, name, _, _ in sorted(found, key=lambda t: (t[0], t[1])):
        if begin < end:
            raise UnreadableTensorFile(f"tensor {_short(name)} overlaps the tensor before it in the data buffer")
        if begin > end:
            raise UnreadableTensorFile(f"bytes {end} to {begin} of the data buffer belong to no tensor")
        end = stop
    if end != data_size:
        raise UnreadableTensorFile(f"bytes {end} to {data_size} of the data buffer belong to no tensor")


def _read_npy_header(f: BinaryIO, member: str, left: int = MAX_NPY_HEADERS) -> tuple[str, bool, tuple[int, ...]]:
    """(descr, fortran_order, shape) of an ``.npy`` stream positioned at its start; ``left``:
    the bytes of header the archive's members may still have."""
    magic = f.read(8)
    if len(magic) < 8 or magic[:6] != NPY_MAGIC:
        raise UnreadableTensorFile(f"member {_short(member)} is not an .npy array (bad magic string)")
    major = magic[6]
    if major == 1:
        (n,) = struct.unpack("<H", f.read(2))
    elif major in (2, 3):
        (n,) = struct.unpack("<I", f.read(4))
    else:
        raise UnreadableTensorFile(f"member {_short(member)}: unknown .npy format version {major}.{magic[7]}")
    if n > MAX_NPY_HEADER:
        raise UnreadableTensorFile(
            f"member {_short(member)}: header of {n} bytes is larger than the {MAX_NPY_HEADER}-byte limit")
    if n > left:
        raise UnreadableTensorFile(
            f"member {_short(member)}: the members' .npy headers add up to more than {MAX_NPY_HEADERS} bytes")
    raw = f.read(n)
    if len(raw) < n:
        raise UnreadableTensorFile(f"member {_short(member)}: truncated header")
    try:
        text = raw.decode("utf-8" if major == 3 else "latin1")
        header = ast.literal_eval(text)  # literals only: no names, no calls
    except (UnicodeDecodeError, ValueError, SyntaxError, MemoryError, RecursionError):
        raise UnreadableTensorFile(f"member {_short(member)}: the header is not a Python literal") from None
    if not isinstance(header, dict) or not {"descr", "fortran_order", "shape"} <= header.keys():
        raise UnreadableTensorFile(f"member {_short(member)}: the header lacks descr, fortran_order or shape")
    descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
    if not _is_shape(shape) or not isinstance(fortran, bool):
        raise UnreadableTensorFile(f"member {_short(member)}: invalid shape or fortran_order")
    # structured dtypes have a list descr; keep a stable text form of it
    descr = descr if isinstance(descr, str) else repr(descr)
    _check_unicode(descr)
    return descr, fortran, tuple(shape)


def _check_unicode(*texts: str) -> None:
    """Refuse a name or dtype that no output can hold (JSON allows a lone surrogate)."""
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise UnreadableTensorFile("a tensor name or dtype is not valid Unicode") from None


def _check_members(f: BinaryIO, members: list[zipfile.ZipInfo]) -> None:
    """Refuse what would make reading the members cost more than the file: members whose
    bytes overlap (or share a local header), more declared bytes than the file can honestly
    hold, an empty name, encryption."""
    end = 0
    for info in sorted(members, key=lambda i: i.header_offset):
        if not info.filename:
            raise UnreadableTensorFile("a member has an empty name")
        if info.flag_bits & 0x1:
            raise UnreadableTensorFile(f"member {_short(info.filename)} is encrypted")
        if info.header_offset < end:
            raise UnreadableTensorFile(
                f"member {_short(info.filename)} overlaps the member before it (a zip bomb?)")
        f.seek(info.header_offset)
        head = f.read(ZIP_LOCAL_HEADER.size)
        if len(head) < ZIP_LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
            raise UnreadableTensorFile(f"member {_short(info.filename)}: no local header at its offset")
        _, name_len, extra_len = ZIP_LOCAL_HEADER.unpack(head)
        end = info.header_offset + ZIP_LOCAL_HEADER.size + name_len + extra_len + info.compress_size
    size = f.seek(0, os.SEEK_END)
    declared = sum(info.file_size for info in members)
    if declared > MAX_ZIP_RATIO * size + ZIP_ALLOWANCE:
        raise UnreadableTensorFile(
            f"its members claim {declared} bytes, too many for a {size}-byte archive (a zip bomb?)")


def _hash_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, left: int) -> tuple[str, tuple[int, ...], str, int]:
    """(descr, shape, digest, size) of one ``.npy`` member, streamed (never more than its
    declared size: zipfile stops there and checks the CRC); ``left`` as for _read_npy_header."""
    try:
        with zf.open(info) as f:
            descr, fortran, shape = _read_npy_header(f, info.filename, left)
            h = hashlib.sha256()
            if fortran:  # the same bytes in the other order are another array (its transpose's layout)
                h.update(b"fortran_order\0")
            size = 0
            while chunk := f.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
    except OSError as exc:
        if exc.errno is not None:  # the disk, not the member: not the file's fault
            raise
        # bz2 reports a damaged stream as a bare OSError ("Invalid data stream")
        raise UnreadableTensorFile(f"member {_short(info.filename)} cannot be decompressed ({exc})") from None
    return descr, shape, "sha256:" + h.hexdigest(), size


def _read_at(f: BinaryIO, at: int, n: int) -> bytes:
    f.seek(at)
    return f.read(n)


def _read_npz(f: BinaryIO) -> dict[str, TensorInfo]:
    out: dict[str, TensorInfo] = {}
    size = f.seek(0, os.SEEK_END)
    try:  # counted first, one integer a member: zipfile makes an object of each
        zip_directory(lambda at, n: _read_at(f, at, n), size)
    except (ValueError, struct.error, EOFError) as exc:
        raise UnreadableTensorFile(f"not a readable zip archive ({exc})") from None
    with zipfile.ZipFile(f) as zf:
        members = zf.infolist()
        _check_members(f, members)
        left = MAX_NPY_HEADERS
        for info in members:
            if info.is_dir():
                continue
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if name in out:  # w.npy beside w, or a name twice: one would hide the other's change
                raise UnreadableTensorFile(f"two members name the array {name!r}; which of them changed cannot be told")
            descr, shape, digest, size = _hash_member(zf, info, left)
            left -= info.file_size - size  # its header (the CRC check held it to its declared size)
            # an object array is a pickle: compared by the digest of its bytes only
            dtype = "object" if "O" in descr else descr
            out[name] = TensorInfo(name, dtype, shape, digest, size)
    return out


def diff_tensors(a: dict[str, TensorInfo], b: dict[str, TensorInfo]) -> dict:
    """Per tensor: added, removed, reshaped (dtype or shape differ), changed (bytes), unchanged;
    and the bytes of each side's tensors and of those the two share (unchanged: same bytes)."""
    reshaped, changed = {}, []
    unchanged = 0
    for name in sorted(a.keys() & b.keys()):
        ta, tb = a[name], b[name]
        if (ta.dtype, ta.shape) != (tb.dtype, tb.shape):
            reshaped[name] = {"a": {"dtype": ta.dtype, "shape": list(ta.shape)},
                              "b": {"dtype": tb.dtype, "shape": list(tb.shape)}}
        elif ta.digest != tb.digest:
            changed.append(name)
        else:
            unchanged += 1
    return {
        "added": sorted(b.keys() - a.keys()),
        "removed": sorted(a.keys() - b.keys()),
        "reshaped": reshaped,
        "changed": changed,
        "unchanged": unchanged,
        "a_bytes": sum(t.size for t in a.values()),
        "b_bytes": sum(t.size for t in b.values()),
        "shared_bytes": sum(a[n].size for n in a.keys() & b.keys() if a[n].digest == b[n].digest
                            and (a[n].dtype, a[n].shape) == (b[n].dtype, b[n].shape)),
    }
