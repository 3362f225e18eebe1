"""Tensor listings from real safetensors and npz files, written here byte by byte."""

from __future__ import annotations

import hashlib
import json
import pickle
import struct
import zipfile

import numpy as np
import pytest

from mvc.core.tensors import UnreadableTensorFile, diff_tensors, read_tensors, tensor_format

from tensorfiles import write_npz, write_safetensors


def sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def test_format_by_suffix():
    assert tensor_format("a/model.safetensors") == "safetensors"
    assert tensor_format("W.NPZ") == "npz"
    assert tensor_format("model.pt") is None and tensor_format("model.bin") is None


def test_safetensors_header_and_byte_ranges(tmp_path):
    w = np.arange(6, dtype="<f4").reshape(2, 3)
    b = np.array([1, 2], dtype="<i8")
    p = write_safetensors(tmp_path / "m.safetensors", {"w": w, "b": b}, metadata={"format": "pt"})
    got = read_tensors(p, "safetensors")
    assert set(got) == {"w", "b"}  # __metadata__ is not a tensor
    assert (got["w"].dtype, got["w"].shape, got["w"].digest) == ("F32", (2, 3), sha(w.tobytes()))
    assert (got["b"].dtype, got["b"].shape, got["b"].digest) == ("I64", (2,), sha(b.tobytes()))


def test_empty_safetensors(tmp_path):
    p = write_safetensors(tmp_path / "e.safetensors", {})
    assert read_tensors(p, "safetensors") == {}


@pytest.mark.parametrize("mutate, reason", [
    (lambda raw: raw[:5], "truncated"),
    (lambda raw: raw[:-4], "truncated"),
    (lambda raw: struct.pack("<Q", 1 << 40) + raw[8:], "limit"),
    (lambda raw: struct.pack("<Q", 4) + b"{nop" + raw[12:], "JSON"),
    (lambda raw: struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    (lambda raw: b"", "truncated"),
])
def test_malformed_safetensors_is_unreadable(tmp_path, mutate, reason):
    p = write_safetensors(tmp_path / "m.safetensors", {"w": np.ones(4, dtype="<f4")})
    p.write_bytes(mutate(p.read_bytes()))
    with pytest.raises(UnreadableTensorFile, match=reason):
        read_tensors(p, "safetensors")


def test_offsets_that_do_not_fit_the_dtype_are_unreadable(tmp_path):
    p = write_safetensors(tmp_path / "m.safetensors", {"w": ("F32", [3], b"\0" * 8)})
    with pytest.raises(UnreadableTensorFile, match="do not hold"):
        read_tensors(p, "safetensors")
    p = write_safetensors(tmp_path / "n.safetensors", {"w": ("F32", [-1], b"")})
    with pytest.raises(UnreadableTensorFile, match="invalid"):
        read_tensors(p, "safetensors")


def test_npz_members_from_npy_headers(tmp_path):
    a = np.arange(12, dtype="<f8").reshape(3, 4)
    f = np.asfortranarray(np.ones((2, 2), dtype="<i4"))
    p = write_npz(tmp_path / "w.npz", layer=a, fortran=f)
    got = read_tensors(p, "npz")
    assert (got["layer"].dtype, got["layer"].shape, got["layer"].digest) == ("<f8", (3, 4), sha(a.tobytes()))
    assert got["fortran"].shape == (2, 2)


class _Boom:
    """Unpickling this writes a marker file: proof that something unpickled it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_object_npz_member_is_hashed_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    payload = pickle.dumps([_Boom(marker)])
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    p = tmp_path / "o.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("objs.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload)
    got = read_tensors(p, "npz")
    assert got["objs"].dtype == "object" and got["objs"].shape == (1,)
    assert got["objs"].digest == sha(payload)
    assert not marker.exists()
    real = read_tensors(write_npz(tmp_path / "r.npz", objs=np.array([{"a": 1}, None], dtype=object)), "npz")
    assert real["objs"].dtype == "object"


def test_npz_that_is_not_a_zip_or_not_npy_is_unreadable(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(UnreadableTensorFile):
        read_tensors(bad, "npz")
    other = tmp_path / "other.npz"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("x.npy", b"not an npy file")
    with pytest.raises(UnreadableTensorFile, match="magic"):
        read_tensors(other, "npz")
    code = tmp_path / "code.npz"
    header = b"{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': (1,)}"
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("x.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header)
    with pytest.raises(UnreadableTensorFile, match="literal"):
        read_tensors(code, "npz")


def test_diff_tensors_classifies_each_tensor(tmp_path):
    a = read_tensors(write_safetensors(tmp_path / "a.safetensors", {
        "same": np.zeros(3, dtype="<f4"), "changed": np.zeros(3, dtype="<f4"),
        "reshaped": np.zeros(6, dtype="<f4"), "retyped": np.zeros(2, dtype="<f4"),
        "gone": np.zeros(1, dtype="<f4"),
    }), "safetensors")
    b = read_tensors(write_safetensors(tmp_path / "b.safetensors", {
        "same": np.zeros(3, dtype="<f4"), "changed": np.ones(3, dtype="<f4"),
        "reshaped": np.zeros((2, 3), dtype="<f4"), "retyped": np.zeros(2, dtype="<f8"),
        "new": np.zeros(1, dtype="<f4"),
    }), "safetensors")
    d = diff_tensors(a, b)
    assert d["added"] == ["new"] and d["removed"] == ["gone"]
    assert d["changed"] == ["changed"] and d["unchanged"] == 1
    assert d["reshaped"] == {
        "reshaped": {"a": {"dtype": "F32", "shape": [6]}, "b": {"dtype": "F32", "shape": [2, 3]}},
        "retyped": {"a": {"dtype": "F32", "shape": [2]}, "b": {"dtype": "F64", "shape": [2]}},
    }
    json.dumps(d)


def test_the_same_bytes_in_fortran_order_are_another_array(tmp_path):
    """Probe U: the .npy header's fortran_order was read and dropped, so an array and one with
    the same bytes laid out column-major (np.load gives [[0,2,4],[1,3,5]] for [[0,1,2],[3,4,5]])
    compared as the same tensor. A C-order member's digest is still the SHA-256 of its bytes."""
    c = np.arange(6, dtype="<f4").reshape(2, 3)
    f = np.ndarray((2, 3), "<f4", c.tobytes(), order="F")
    assert not np.array_equal(c, f)
    a = read_tensors(write_npz(tmp_path / "a.npz", w=c), "npz")
    b = read_tensors(write_npz(tmp_path / "b.npz", w=np.asfortranarray(f)), "npz")
    assert a["w"].digest == sha(c.tobytes())
    assert diff_tensors(a, b)["changed"] == ["w"]
