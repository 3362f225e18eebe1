"""Hostile model files and names: headers, directories and names made to cost memory or forge
output. Each file is built here byte by byte (at most ~60 MB), added and diffed by the real
``mvc``, and the peak memory of that process is measured (``os.wait4``).

Before the bounds in ``chunk_formats`` (measured with /usr/bin/time -v): a safetensors header
of 19 million empty objects took 1.4 GB in ``mvc add`` and ``mvc diff``, a zip of 1.1 million
central directory entries 500 MB in ``mvc add``, a GGUF header of a million tensors 240 MB.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mvc.core import chunk_formats

from support import BIN, on_terminal
from tensorfiles import write_npz, write_safetensors

MB = 1 << 20


# Run through a small Python parent: a child's peak counts what it shared with its parent
# before exec, and this test process holds the big files it has just built.
_MEASURE = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
            "sys.stderr.write('\\n%d' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
            "sys.exit(code)")


def peak_rss(repo, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """Run ``mvc ARGS`` in ``repo`` and return (its result, its peak resident memory in bytes)."""
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(BIN), *args], cwd=repo.cwd, env=repo.env,
                          capture_output=True, text=True, timeout=60)
    stderr, _, peak = proc.stderr.rpartition("\n")
    return subprocess.CompletedProcess(args, proc.returncode, proc.stdout, stderr), int(peak) * 1024


def _many_objects_header(path: Path, count: int) -> None:
    """A safetensors file whose header holds ``count`` empty objects besides one real tensor."""
    body = (b'{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"__metadata__":['
            + b"{}," * (count - 1) + b"{}]}")
    body += b" " * (-len(body) % 8)
    path.write_bytes(struct.pack("<Q", len(body)) + body + b"\1\2\3\4")


def _many_members_zip(path: Path, count: int) -> None:
    """A zip of one 5 MiB stored member, listed ``count`` times by its central directory
    (47 bytes an entry)."""
    data = np.random.default_rng(1).bytes(5 * MB)
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, len(data), len(data), 5, 0) + b"a.npy"
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, len(data), len(data),
                        1, 0, 0, 0, 0, 0, 0) + b"a"
    n = min(count, 0xFFFF)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(entry) * count, len(local) + len(data), 0)
    path.write_bytes(local + data + entry * count + end)


def _many_tensors_gguf(path: Path, count: int) -> None:
    """A GGUF file that declares ``count`` tensors of no dimensions, 32 bytes apart."""
    head = b"GGUF" + struct.pack("<IQQ", 3, count, 0)
    head += b"".join([struct.pack("<QIIQ", 0, 0, 0, 32 * i) for i in range(count)])
    head += bytes(-len(head) % 32)
    path.write_bytes(head + bytes(32 * count))


def _two_versions(repo, work: Path, hostile) -> Path:
    """net@0.1.0 with honest m.safetensors and w.npz; ``hostile(folder)`` then replaces some."""
    model = work / "model"
    write_safetensors(model / "m.safetensors", {"a": np.zeros(4, dtype="u1")})
    write_npz(model / "w.npz", w=np.zeros(4))
    repo("add", "model", "--name", "net")
    hostile(model)
    return model


def _stored_whole(repo, work: Path, path: Path, ref: str, folder: bool = True) -> None:
    """The version ``ref`` verifies and checks out with ``path`` as it was added."""
    repo("verify", ref)
    repo("checkout", ref, "-o", work / "out")
    assert (work / "out" / path.name if folder else work / "out").read_bytes() == path.read_bytes()


def test_a_safetensors_header_of_millions_of_values_is_stored_and_unreadable_to_diff(repo, work):
    model = _two_versions(repo, work, lambda m: _many_objects_header(m / "m.safetensors", 10_000_000))
    proc, rss = peak_rss(repo, "add", "model", "--name", "net")
    assert proc.returncode == 0, proc.stderr
    assert rss < 300 * MB, rss  # 750 MB before: parsed into ten million dicts
    _stored_whole(repo, work, model / "m.safetensors", "net@0.1.1")
    proc, rss = peak_rss(repo, "diff", "net@0.1.0", "net@0.1.1", "--json")
    assert proc.returncode == 0 and rss < 300 * MB, (proc.stderr, rss)
    errors = {u["path"]: u["error"] for u in json.loads(proc.stdout)["unreadable"]}
    assert "JSON values, more than the 2097152 a plausible one holds" in errors["m.safetensors"]


def test_a_zip_of_a_million_directory_entries_is_stored_and_unreadable_to_diff(repo, work):
    model = _two_versions(repo, work, lambda m: _many_members_zip(m / "w.npz", 1_100_000))
    proc, rss = peak_rss(repo, "add", "model", "--name", "net")
    assert proc.returncode == 0 and rss < 250 * MB, (proc.stderr, rss)  # 500 MB before
    _stored_whole(repo, work, model / "w.npz", "net@0.1.1")
    proc, rss = peak_rss(repo, "diff", "net@0.1.0", "net@0.1.1")
    assert proc.returncode == 0 and rss < 250 * MB, (proc.stderr, rss)
    assert f"w.npz\t(B unreadable)\tnot a readable zip archive (more than {1 << 17} members)" in proc.stdout


def test_a_gguf_header_of_a_million_tensors_is_stored_by_its_content(repo, work):
    _many_tensors_gguf(work / "m.gguf", 1_000_000)
    proc, rss = peak_rss(repo, "add", "m.gguf", "--name", "g")
    assert proc.returncode == 0 and rss < 170 * MB, (proc.stderr, rss)  # 240 MB before
    _stored_whole(repo, work, work / "m.gguf", "g", folder=False)


def test_a_gguf_header_claiming_huge_lengths_costs_no_memory(tmp_path):
    """Lengths a GGUF header claims (a scalar array, a string value, a tensor name) are skipped
    unread: read whole (os.pread of the claimed length), each took that much memory, up to the
    file's size however large (120 MB each here: a parse in 47 MB took 130 MB)."""
    size = 400 * MB
    with open(tmp_path / "h.gguf", "wb") as f:  # sparse: the claimed bytes are zeros on no disk
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 1, 3))
        f.write(struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 0, 120 * MB))  # uint8 array
        f.seek(120 * MB, os.SEEK_CUR)
        f.write(struct.pack("<Q", 1) + b"s" + struct.pack("<IQ", 8, 120 * MB))  # a string
        f.seek(120 * MB, os.SEEK_CUR)
        f.write(struct.pack("<Q", 1) + b"a" + struct.pack("<II", 4, 32))
        f.write(struct.pack("<Q", 120 * MB))  # one tensor whose name claims 120 MB
        f.truncate(size)
    parse = ("import os, sys\nfrom mvc.core import chunk_formats\n"
             "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
             "print(chunk_formats.spans(fd, os.fstat(fd).st_size)[0])")
    proc = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-c", parse, tmp_path / "h.gguf"],
                          capture_output=True, text=True, check=True, timeout=60)  # _MEASURE: see above
    assert proc.stdout.split("\n")[0] == str((0, 360 * MB + 128))  # every claim read past: the header, aligned
    assert int(proc.stderr.rpartition("\n")[2]) * 1024 < 90 * MB, proc.stderr  # 130 MB before


def test_format_bounds_refuse_just_past_them_and_keep_real_files(tmp_path):
    """Each bound: at it the structure is read, one past it the file is cut by its content."""
    def spans(path: Path):
        with open(path, "rb") as f:
            return chunk_formats.spans(f.fileno(), path.stat().st_size)

    _many_tensors_gguf(tmp_path / "ok.gguf", 1000)
    assert len(spans(tmp_path / "ok.gguf")) == 1001
    _many_tensors_gguf(tmp_path / "big.gguf", chunk_formats.MAX_GGUF_TENSORS + 1)
    assert spans(tmp_path / "big.gguf") is None
    _many_members_zip(tmp_path / "ok.zip", chunk_formats.MAX_ZIP_MEMBERS)
    assert spans(tmp_path / "ok.zip") is not None
    _many_members_zip(tmp_path / "big.zip", chunk_formats.MAX_ZIP_MEMBERS + 1)
    assert spans(tmp_path / "big.zip") is None
    write_npz(tmp_path / "real.npz", **{f"w{i}": np.zeros(i) for i in range(20)})
    assert len(spans(tmp_path / "real.npz")) == 21  # each member, then the central directory
    tensors = {f"t{i}": np.zeros((3, 4), dtype="f4") for i in range(5000)}
    write_safetensors(tmp_path / "real.safetensors", tensors, metadata={"format": "pt"})
    assert len(spans(tmp_path / "real.safetensors")) == 5001
    _many_objects_header(tmp_path / "big.safetensors", chunk_formats.MAX_HEADER_VALUES // 2)
    assert spans(tmp_path / "big.safetensors") is None


NAMES = ["evil\nforged\tadded", "red\x1b[31mX", "bidi\u202eabc\u2066x\u2069", "cr\rZZ"]


def _named_versions(repo, work: Path) -> None:
    for v in (1, 2):
        write_safetensors(work / "model" / "m.safetensors", {n: np.full(4, v, dtype="u1") for n in NAMES})
        repo("add", "model", "--name", "n")


def test_diff_escapes_tensor_names_in_a_pipe_and_on_a_terminal(repo, work):
    _named_versions(repo, work)
    piped = repo("diff", "n@0.1.0", "n@0.1.1").stdout
    tensors = [ln for ln in piped.splitlines() if ln.startswith("tensor\t")]
    assert tensors == [f"tensor\tm.safetensors\t{n}\tchanged" for n in (
        "bidi\\u202eabc\\u2066x\\u2069", "cr\\rZZ", "evil\\nforged\\tadded", "red\\x1b[31mX")]
    shown = on_terminal(["diff", "n@0.1.0", "n@0.1.1"], work, dict(repo.env, TERM="xterm-256color"), 120)
    rows = [ln.split()[0] for ln in shown.replace("\r\n", "\n").splitlines() if ln.endswith(" changed")]
    assert rows == ["m.safetensors", "bidi\\u202eabc\\u2066x\\u2069", "cr\\rZZ", "evil\\nforged\\tadded",
                    "red\\x1b[31mX"]
    assert "\u202e" not in shown and "\u2066" not in shown and "\x1b[31m" not in shown
    assert "forged\t" not in shown and "\nforged" not in shown
    exact = repo.json("diff", "n@0.1.0", "n@0.1.1")["tensors"]["m.safetensors"]["changed"]
    assert exact == sorted(NAMES)  # --json keeps the names as they are


def test_a_proc_file_and_a_symlink_loop_are_clear_errors(repo, work):
    proc = repo.fail("add", "/proc/self/status", "--name", "p")
    assert "says it holds 0 bytes but" in proc.stderr and "copy it to a regular file" in proc.stderr
    os.symlink("a", work / "b")
    os.symlink("b", work / "a")
    proc = repo.fail("add", "a", "--name", "l")
    assert "model path a is a symlink loop" in proc.stderr
    proc = repo.fail("add", "b", "--name", "l", "--json")
    assert "model path b is a symlink loop" in proc.stdout
    os.symlink("nowhere", work / "c")
    proc = repo.fail("add", "c", "--name", "c")
    assert "model path c is a symlink to 'nowhere', which does not exist" in proc.stderr


def test_show_escapes_file_names_of_a_folder_on_a_terminal(repo, work):
    model = work / "d"
    model.mkdir()
    (model / "evil\nforged\tx").write_bytes(b"a")
    (model / "bi\u202edi").write_bytes(b"b")
    repo("add", "d", "--name", "d")
    shown = on_terminal(["show", "d"], work, dict(repo.env, TERM="xterm-256color"), 160).replace("\r\n", "\n")
    paths = [ln.split()[0] for ln in shown.splitlines() if "sha256:" in ln and not ln.startswith(("\x1b", "digest"))]
    assert paths == ["bi\\u202edi", "evil\\nforged\\tx"], shown
    assert "\u202e" not in shown and "\nforged" not in shown
    piped = [ln for ln in repo("show", "d").stdout.splitlines() if ln.startswith("file\t")]
    assert [ln.split("\t")[1] for ln in piped] == ["bi\\u202edi", "evil\\nforged\\tx"]


def test_the_zip_directory_walk_finds_what_zipfile_finds(tmp_path):
    """Members after bytes prepended to the archive, and an offset kept in a zip64 extra field."""
    import io
    import zipfile

    def both(raw: bytes):
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            expected = (z.start_dir, [i.header_offset for i in z.infolist()])
        start, offsets = chunk_formats.zip_directory(lambda at, n: raw[at:at + n], len(raw))
        assert (start, list(offsets)) == expected

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in ("a.npy", "b.npy", "c/d.npy"):
            z.writestr(name, name.encode() * 100)
    raw = buf.getvalue()
    both(raw)
    both(b"#!/bin/sh\n" * 100 + raw)  # a self-extracting archive's stub
    # the first entry's offset moved to a zip64 extra field (as for a member past 4 GiB)
    end = raw.rfind(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack_from("<LL", raw, end + 12)
    entry = bytearray(raw[cd_offset:cd_offset + 46])
    name_len, extra_len = struct.unpack_from("<HH", entry, 28)
    assert extra_len == 0
    struct.pack_into("<H", entry, 30, 12)
    struct.pack_into("<L", entry, 42, 0xFFFFFFFF)
    first = bytes(entry) + raw[cd_offset + 46:cd_offset + 46 + name_len] + struct.pack("<HHQ", 1, 8, 0)
    rest = raw[cd_offset + 46 + name_len:end]
    tail = bytearray(raw[end:])
    struct.pack_into("<L", tail, 12, cd_size + 12)
    both(raw[:cd_offset] + first + rest + bytes(tail))


def test_safetensors_tensors_that_overlap_are_unreadable_to_diff(repo, work):
    """Two hundred tensors that each name the whole 8 MiB buffer: hashed, 1.6 GB of work."""
    def overlapping(model: Path) -> None:
        size = 8 * MB
        header = {f"t{i}": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]} for i in range(200)}
        body = json.dumps(header).encode()
        (model / "m.safetensors").write_bytes(struct.pack("<Q", len(body)) + body + bytes(size))

    _two_versions(repo, work, overlapping)
    repo("add", "model", "--name", "net")
    errors = {u["path"]: u["error"] for u in repo.json("diff", "net@0.1.0", "net@0.1.1")["unreadable"]}
    assert errors == {"m.safetensors": "tensor 't1' overlaps the tensor before it in the data buffer"}


def test_an_npz_of_many_costly_npy_headers_is_unreadable_to_diff(repo, work):
    """70 headers of 64 KiB each (deflated to 200 bytes) pass the 4 MiB all may hold. Made of
    a long string here, quick to parse; a shape of 32,000 ones takes ast 44 ms, and a 30 MB
    npz of 100,000 such members kept diff busy for over an hour."""
    import zipfile

    header = ("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), 'pad': '" + "1" * 65000 + "'}")
    header = header.ljust(65530) + "\n"
    member = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\x07"

    def costly(model: Path) -> None:
        with zipfile.ZipFile(model / "w.npz", "w", zipfile.ZIP_DEFLATED) as z:
            for i in range(70):
                z.writestr(f"a{i}.npy", member)

    _two_versions(repo, work, costly)
    repo("add", "model", "--name", "net")
    errors = {u["path"]: u["error"] for u in repo.json("diff", "net@0.1.0", "net@0.1.1")["unreadable"]}
    assert errors["w.npz"].endswith(f"the members' .npy headers add up to more than {4 << 20} bytes")


def test_a_shape_of_huge_numbers_is_unreadable_at_once_and_named_briefly(repo, work):
    """600 dimensions of 4,000 digits each (2.4 MB): multiplied out, 11 s before; the error
    held the whole shape."""
    def huge_shape(model: Path) -> None:
        shape = ",".join(["9" * 4000] * 600)
        body = ('{"a":{"dtype":"F32","shape":[' + shape + '],"data_offsets":[0,4]}}').encode()
        (model / "m.safetensors").write_bytes(struct.pack("<Q", len(body)) + body + bytes(4))

    _two_versions(repo, work, huge_shape)
    repo("add", "model", "--name", "net")
    start = time.monotonic()
    errors = {u["path"]: u["error"] for u in repo.json("diff", "net@0.1.0", "net@0.1.1")["unreadable"]}
    assert time.monotonic() - start < 5
    # a 64-bit dimension has at most 20 digits: the header is refused as it is parsed
    assert errors["m.safetensors"] == ("the header holds a whole number of 4000 digits, more than a 64-bit "
                                       "offset or dimension has")
