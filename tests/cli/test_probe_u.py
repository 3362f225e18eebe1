"""What a hostile-file probe (U) found mvc reporting or storing wrongly: diff calling a changed
tensor unchanged (an npz with two members of one array name, a safetensors data buffer with
bytes no tensor names), a refused folder leaving its bytes in the store, and add taking a file
whose bytes are a folder's manifest for that folder. Real files, real mvc processes."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
from pathlib import Path

from support import Mvc, write


def _npy(data: bytes) -> bytes:
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }" % (len(data) // 4)
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def _unreadable(m: Mvc, a: str, b: str) -> dict:
    return {u["path"]: u["error"] for u in m.json("diff", a, b)["unreadable"]}


def test_an_npz_with_two_members_of_one_array_name_is_unreadable_not_unchanged(repo: Mvc, work: Path):
    for i, changed in enumerate((b"\0" * 16, b"\2" * 16)):
        with zipfile.ZipFile(work / "c.npz", "w") as z:
            z.writestr("w.npy", _npy(changed))  # numpy: np.load(f)["w.npy"]
            z.writestr("w", _npy(b"\1" * 16))  # ... and np.load(f)["w"]
        repo("add", "c.npz", "--name", "c")
    reasons = _unreadable(repo, "c@0.1.0", "c@0.1.1")
    assert "two members name the array 'w'" in reasons["c.npz"]


def test_safetensors_bytes_no_tensor_names_make_it_unreadable_not_unchanged(repo: Mvc, work: Path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}).encode()
    for gap in (b"A" * 8, b"B" * 8):  # the bytes before the tensor change, the tensor does not
        write(work / "g.safetensors", struct.pack("<Q", len(header)) + header + gap + b"\1" * 8)
        repo("add", "g.safetensors", "--name", "g")
    assert "bytes 0 to 8 of the data buffer belong to no tensor" in _unreadable(repo, "g@0.1.0", "g@0.1.1")[
        "g.safetensors"]
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    for tail in (b"A", b"B"):
        write(work / "t.safetensors", struct.pack("<Q", len(header)) + header + b"\1" * 8 + tail)
        repo("add", "t.safetensors", "--name", "t")
    assert "bytes 8 to 9" in _unreadable(repo, "t@0.1.0", "t@0.1.1")["t.safetensors"]


def test_a_folder_refused_for_what_it_holds_leaves_nothing_in_the_store(repo: Mvc, work: Path):
    write(work / "big" / "a.bin", os.urandom(3 << 20))
    os.mkfifo(work / "big" / "zz.fifo")
    proc = repo.fail("add", "big", "--name", "b")
    assert "zz.fifo" in proc.stderr
    assert repo.json("stats")["stored"] == 0
    assert not [p for p in (work / ".mvc" / "objects").rglob("*") if p.is_file()]


def test_a_file_whose_bytes_are_a_folders_manifest_is_a_version_of_its_own(repo: Mvc, work: Path):
    write(work / "tree" / "a.txt", "hello\n")
    repo("add", "tree", "--name", "k")
    digest = "sha256:" + hashlib.sha256(b"hello\n").hexdigest()
    manifest = {"format": "mvc-tree-v1", "entries": [{"digest": digest, "mode": 0o644, "path": "a.txt", "size": 6}]}
    write(work / "manifest.json", json.dumps(manifest, sort_keys=True, separators=(",", ":")))
    out = repo.json("add", "manifest.json", "--name", "k")
    assert out["created"] and out["kind"] == "file" and out["version"] == "0.1.1"
    assert out["digest"] == repo.json("show", "k@0.1.0")["digest"]  # the same bytes, another kind
    repo("checkout", "k@0.1.1", "-o", "out.json")
    assert (work / "out.json").read_bytes() == (work / "manifest.json").read_bytes()
