"""Where large files are cut (chunking.py, chunk_formats.py) and how they are kept as a recipe
over chunks (chunked.py, objects.py): real safetensors and npz files with realistic shapes,
a real model, random bytes for content-defined chunking."""

from __future__ import annotations

import hashlib
import os
import random
import struct
from pathlib import Path

import numpy as np
import pytest
from realmodel import fine_tune, tensor_layout
from tensorfiles import write_npz, write_safetensors

from mvc.core import chunk_formats, chunking
from mvc.core.chunked import Recipe
from mvc.core.errors import IntegrityError


def _spans_of(path: Path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return chunk_formats.spans(fd, path.stat().st_size)
    finally:
        os.close(fd)


def _bert_like(path: Path, seed: int = 0) -> Path:
    """A small BERT-shaped model: an embedding, layers of attention and MLP weights, biases."""
    rng = np.random.default_rng(seed)
    tensors = {"embeddings.word_embeddings.weight": rng.standard_normal((4000, 384), dtype=np.float32)}
    for i in range(2):
        for part in ("query", "key", "value"):
            tensors[f"layer.{i}.attention.{part}.weight"] = rng.standard_normal((384, 384), dtype=np.float32)
            tensors[f"layer.{i}.attention.{part}.bias"] = rng.standard_normal(384, dtype=np.float32)
        tensors[f"layer.{i}.intermediate.dense.weight"] = rng.standard_normal((1536, 384), dtype=np.float32)
        tensors[f"layer.{i}.output.LayerNorm.weight"] = np.ones(384, np.float32)
    return write_safetensors(path, tensors, metadata={"format": "pt"})


def test_safetensors_cut_at_header_and_tensors(tmp_path, store):
    path = _bert_like(tmp_path / "model.safetensors")
    layout = tensor_layout(path)
    digest, size = store.put_file(path)
    assert digest == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    recipe = store.recipe(digest)
    offsets = [c.offset for c in recipe.chunks]
    # the header is a chunk of its own: the first tensor starts the second chunk
    assert offsets[:2] == [0, layout[0][2]]
    # every large tensor starts a chunk; its pieces are aligned to its start
    for _, _, start, end in layout:
        if end - start >= chunking.SMALL:
            assert start in offsets
            inside = [o for o in offsets if start <= o < end]
            assert inside == list(range(start, end, chunking.PIECE))
    assert max(c.size for c in recipe.chunks) <= chunking.PIECE
    assert store.read_bytes(digest) == path.read_bytes()


def test_a_changed_tensor_changes_only_its_chunks(tmp_path, store):
    base = _bert_like(tmp_path / "a.safetensors")
    data = bytearray(base.read_bytes())
    name, _, start, end = next(t for t in tensor_layout(base) if t[0] == "layer.1.attention.key.weight")
    data[start:end] = os.urandom(end - start)
    tuned = tmp_path / "b.safetensors"
    tuned.write_bytes(bytes(data))
    a = {c.digest for c in store.recipe(store.put_file(base)[0]).chunks}
    b = store.recipe(store.put_file(tuned)[0]).chunks
    new = [c for c in b if c.digest not in a]
    assert new and all(start <= c.offset and c.offset + c.size <= end for c in new)


def test_real_model_and_a_fine_tune_share_all_but_the_rewritten_tensors(tmp_path, store, real_model):
    tuned = tmp_path / "tuned.safetensors"
    changed = fine_tune(real_model, tuned, 0.1)
    size = real_model.stat().st_size
    a = store.put_file(real_model)[0]
    b = store.put_file(tuned)[0]
    assert store.read_bytes(b) == tuned.read_bytes()
    stored = sum(store.size(d) for d in store.iter_digests())  # recipes, then packs
    stored += sum(store.packs.pack_path(name).stat().st_size for name in store.packs.all())
    assert stored > size
    rewritten = sum(e - s for n, _, s, e in tensor_layout(tuned) if n in changed)
    assert stored <= size + rewritten + (1 << 20)
    assert stored / size <= 1.15
    assert {c.digest for c in store.recipe(a).chunks} & {c.digest for c in store.recipe(b).chunks}


def test_zip_cut_at_members(tmp_path, store):
    rng = np.random.default_rng(1)
    path = write_npz(tmp_path / "w.npz", small=np.arange(10), big=rng.standard_normal((1500, 1000)).astype(np.float32),
                     other=rng.standard_normal((300, 1000)).astype(np.float32))
    import zipfile

    with zipfile.ZipFile(path) as z:
        members = sorted(i.header_offset for i in z.infolist())
    spans = _spans_of(path)
    assert sorted(s for s, _ in spans)[:len(members)] == members
    digest, _ = store.put_file(path)
    offsets = {c.offset for c in store.recipe(digest).chunks}
    assert {m for m in members if m} <= offsets | {0}
    assert store.read_bytes(digest) == path.read_bytes()


def test_content_defined_cuts_survive_an_insertion(tmp_path, store):
    # Seeded: with os.urandom, about one run in fifty put a forced CDC_MAX cut next to
    # the insertion, and the cuts took three chunks instead of two to fall back in step.
    data = random.Random(20261128).randbytes(12 << 20)
    a = tmp_path / "a.bin"
    a.write_bytes(data)
    b = tmp_path / "b.bin"
    b.write_bytes(data[:6 << 20] + b"inserted bytes" + data[6 << 20:])
    ra = store.recipe(store.put_file(a)[0])
    rb = store.recipe(store.put_file(b)[0])
    assert all(chunking.CDC_MIN <= c.size <= chunking.CDC_MAX for c in ra.chunks[:-1])
    before = {c.digest for c in ra.chunks}
    fresh = [i for i, c in enumerate(rb.chunks) if c.digest not in before]
    new = [rb.chunks[i] for i in fresh]
    # Only one run of chunks around the insertion is new; the cuts fall back in step after it.
    assert fresh == list(range(fresh[0], fresh[-1] + 1))
    assert new[0].offset <= 6 << 20 < new[-1].offset + new[-1].size
    assert sum(c.size for c in new) <= 3 * chunking.CDC_MAX
    assert store.read_bytes(rb.digest) == b.read_bytes()


def test_small_files_stay_whole(tmp_path, store):
    path = tmp_path / "small.bin"
    path.write_bytes(os.urandom(chunking.CHUNKED_FROM - 1))
    digest, _ = store.put_file(path)
    assert not store.is_chunked(digest) and store.recipe(digest) is None
    assert store.chunks_of(digest) == [(digest, 0, path.stat().st_size)]


def test_recipe_is_canonical_and_checked():
    r = Recipe("sha256:" + "a" * 64, 5, ())
    with pytest.raises(IntegrityError):
        Recipe.from_bytes(r.to_bytes(), r.digest)  # chunks that do not cover the size
    good = b'{"digest":"sha256:' + b"a" * 64 + b'","size":3,"chunks":[{"digest":"sha256:' + b"b" * 64 + \
        b'","offset":0,"size":3}]}'
    assert Recipe.from_bytes(good, "sha256:" + "a" * 64).to_bytes() == good
    for bad in (good.replace(b'"offset":0', b'"offset":1'), b"[]", b"not json",
                good.replace(b'"size":3,"chunks"', b'"chunks":[],"size":3,"x"'),
                good.replace(b'"size":3}', b'"size":true}'), good.replace(b'"size":3}', b'"size":3.0}'),
                good.replace(b'b","offset"', b'b\\n","offset"')):  # a chunk name ending in a newline
        with pytest.raises(IntegrityError):
            Recipe.from_bytes(bad, "sha256:" + "a" * 64)
    with pytest.raises(IntegrityError):  # another file's recipe
        Recipe.from_bytes(good, "sha256:" + "c" * 64)


def test_corrupt_or_missing_chunk_is_named(tmp_path, store):
    path = _bert_like(tmp_path / "m.safetensors")
    digest, _ = store.put_file(path)
    recipe = store.recipe(digest)
    chunk = recipe.chunks[3]
    there = store.locate(chunk.digest)
    assert there.pack is not None and there.size == chunk.size
    there.path.chmod(0o644)
    with open(there.path, "r+b") as f:  # one byte inside that chunk, in the middle of the pack
        f.seek(there.offset + chunk.size // 2)
        f.write(bytes([f.read(1)[0] ^ 1]))
    with pytest.raises(IntegrityError, match=f"chunk {chunk.digest} .* corrupt"):
        store.read_bytes(digest)
    store.packs.index_path(there.pack).unlink()  # the whole pack gone: its first chunk is named
    there.path.unlink()
    assert store.has(digest) and not store.complete(digest)
    with pytest.raises(IntegrityError, match=f"chunk {recipe.chunks[0].digest} .* missing"):
        store.hash_object(digest)


def test_old_whole_objects_still_read(tmp_path, store):
    """A store written before chunking: a large file kept whole is read as it always was."""
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(chunking.CHUNKED_FROM + 1))
    digest = store.put_bytes(path.read_bytes())  # whole, as an old mvc stored it
    assert not store.is_chunked(digest) and store.complete(digest)
    assert store.hash_object(digest) == digest and store.read_bytes(digest) == path.read_bytes()
    assert store.put_file(path)[0] == digest  # adding it again keeps the whole object
    assert not store.recipe_path(digest).exists()


def _write_gguf(path: Path, tensors: dict[str, np.ndarray]) -> list[int]:
    """A GGUF v3 file as llama.cpp writes one: metadata (a string, an array, the alignment),
    tensor infos, then each tensor's F32 data aligned to 32 bytes. Returns where each starts."""
    def string(s: bytes) -> bytes:
        return struct.pack("<Q", len(s)) + s

    kv = (string(b"general.architecture") + struct.pack("<I", 8) + string(b"llama")
          + string(b"tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 3) + struct.pack("<3f", 0, 1, 2)
          + string(b"general.alignment") + struct.pack("<II", 4, 32))
    infos, blobs, offset, starts = b"", b"", 0, []
    for name, t in tensors.items():
        infos += string(name.encode()) + struct.pack("<I", t.ndim) + struct.pack(f"<{t.ndim}Q", *t.shape[::-1])
        infos += struct.pack("<IQ", 0, offset)
        raw = t.astype("<f4").tobytes()
        blobs += raw + b"\0" * (-len(raw) % 32)
        starts.append(offset)
        offset += len(raw) + (-len(raw) % 32)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), 3) + kv + infos
    head += b"\0" * (-len(head) % 32)
    path.write_bytes(head + blobs)
    return [len(head) + s for s in starts]


def test_gguf_cut_at_tensors(tmp_path, store):
    rng = np.random.default_rng(2)
    starts = _write_gguf(tmp_path / "m.gguf", {"token_embd.weight": rng.standard_normal((2000, 512)),
                                               "blk.0.attn_norm.weight": np.ones(512),
                                               "blk.0.ffn_up.weight": rng.standard_normal((1024, 512))})
    assert sorted(s for s, _ in _spans_of(tmp_path / "m.gguf"))[1:] == starts
    digest, _ = store.put_file(tmp_path / "m.gguf")
    offsets = [c.offset for c in store.recipe(digest).chunks]
    assert offsets[:2] == [0, starts[0]] and starts[2] in offsets
    assert store.read_bytes(digest) == (tmp_path / "m.gguf").read_bytes()


def test_damaged_headers_fall_back_to_content(tmp_path, store):
    """A file that claims a format but whose header is damaged or hostile is cut by content."""
    body = os.urandom(chunking.CHUNKED_FROM)
    nested = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 9)
    nested += (struct.pack("<IQ", 9, 1)) * 200_000  # arrays of arrays, deeper than Python recurses
    for name, head in (("st", struct.pack("<Q", 1 << 40) + b"{"), ("gguf", nested),
                       ("zip", b"PK\x03\x04" + b"\0" * 100), ("st2", struct.pack("<Q", 20) + b"{not json}  ")):
        path = tmp_path / name
        path.write_bytes(head + body)
        assert _spans_of(path) is None
        digest, _ = store.put_file(path)
        assert store.read_bytes(digest) == path.read_bytes()
