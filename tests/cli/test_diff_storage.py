"""mvc diff on a real model and a fine-tune of it: which tensors and which stored chunks the two
versions share (the ``storage`` key and the byte counts in ``tensors``, issue 13)."""

from __future__ import annotations

import shutil

import numpy as np

from realmodel import SIZE, TENSORS, fine_tune, tensor_layout
from tensorfiles import write_safetensors


def _base_and_fine_tune(repo, work, real_model):
    shutil.copyfile(real_model, work / "model.safetensors")
    repo("add", "model.safetensors", "--name", "minilm")
    changed = fine_tune(real_model, work / "model.safetensors", 0.1)
    repo("add", "model.safetensors", "--name", "minilm")
    return changed


def test_diff_tells_which_tensors_and_chunks_a_fine_tune_shares(repo, work, real_model):
    changed = _base_and_fine_tune(repo, work, real_model)
    out = repo.json("diff", "minilm@0.1.0", "minilm@0.1.1")

    t = out["tensors"]["model.safetensors"]
    assert sorted(t["changed"]) == sorted(changed) and len(changed) == 10
    assert t["unchanged"] == TENSORS - 10 and t["added"] == t["removed"] == [] and t["reshaped"] == {}
    sizes = {name: end - start for name, _, start, end in tensor_layout(real_model)}
    assert t["a_bytes"] == t["b_bytes"] == sum(sizes.values())
    assert t["shared_bytes"] == sum(size for name, size in sizes.items() if name not in changed)

    st = out["storage"]
    assert set(st) == {"shared_bytes", "a_bytes", "b_bytes", "shared_chunks", "chunks_a", "chunks_b"}
    # the chunks hold the file's bytes; what the fine-tune did not touch is stored once
    assert st["a_bytes"] >= SIZE and st["b_bytes"] >= SIZE
    changed_bytes = sum(sizes[name] for name in changed)
    assert st["b_bytes"] - st["shared_bytes"] <= changed_bytes + (2 << 20)
    # small neighbouring tensors share a chunk and big ones span several, so count bytes, not tensors
    assert 1 <= st["shared_chunks"] < min(st["chunks_a"], st["chunks_b"])
    assert st["shared_bytes"] >= st["b_bytes"] - changed_bytes - (2 << 20)

    # the human summary says it too, one NAME<TAB>VALUE line
    lines = repo("diff", "minilm@0.1.0", "minilm@0.1.1").stdout.splitlines()
    share = next(line for line in lines if line.startswith("shared storage\t"))
    assert share.endswith(f"({st['shared_chunks']} of {st['chunks_b']} chunks)")


def test_a_version_with_itself_shares_everything(repo, work, real_model):
    _base_and_fine_tune(repo, work, real_model)
    out = repo.json("diff", "minilm@0.1.1", "minilm@0.1.1")
    st = out["storage"]
    assert st["shared_bytes"] == st["a_bytes"] == st["b_bytes"]
    assert st["shared_chunks"] == st["chunks_a"] == st["chunks_b"]
    t = out["tensors"]["model.safetensors"]
    assert t["shared_bytes"] == t["a_bytes"] and t["changed"] == []


def test_small_files_are_one_chunk_each(repo, work):
    write_safetensors(work / "m.safetensors", {"w": np.zeros(4, dtype="<f4"), "b": np.ones(2, dtype="<f4")})
    repo("add", "m.safetensors", "--name", "tiny")
    write_safetensors(work / "m.safetensors", {"w": np.ones(4, dtype="<f4"), "b": np.ones(2, dtype="<f4")})
    repo("add", "m.safetensors", "--name", "tiny")
    out = repo.json("diff", "tiny@0.1.0", "tiny@0.1.1")
    size = (work / "m.safetensors").stat().st_size
    assert out["storage"] == {"shared_bytes": 0, "a_bytes": size, "b_bytes": size, "shared_chunks": 0,
                              "chunks_a": 1, "chunks_b": 1}
    t = out["tensors"]["m.safetensors"]
    assert (t["a_bytes"], t["b_bytes"], t["shared_bytes"]) == (24, 24, 8)


def test_storage_is_null_when_a_side_is_not_in_the_store(repo, work):
    (work / "m.bin").write_bytes(b"weights 1")
    repo("add", "m.bin", "--name", "tiny", "--metric", "accuracy=0.5")
    (work / "m.bin").write_bytes(b"weights 2")
    repo("add", "m.bin", "--name", "tiny", "--metric", "accuracy=0.6")
    for sub in (repo.mvc_dir / "objects").iterdir():
        shutil.rmtree(sub)
    out = repo.json("diff", "tiny@0.1.0", "tiny@0.1.1")
    assert out["storage"] is None and out["recommendation"] == "RECOMMEND_B"


def test_diff_of_a_version_whose_header_chunk_is_corrupt_is_an_integrity_error(repo, work, real_model):
    """A byte flipped in the chunk that holds the safetensors header (in its pack): diff reads
    that chunk, so it checks it against its name and says so (exit 3, naming the chunk), as
    checkout does; before, the tensor file looked damaged and diff exited 0."""
    from packs_support import flip_byte, store

    _base_and_fine_tune(repo, work, real_model)
    s = store(repo)
    digest = repo.json("show", "minilm@0.1.0")["digest"]
    first = s.recipe(digest).chunks[0]
    where = s.locate(first.digest)
    flip_byte(where.path, where.offset + 20)  # inside the JSON header
    proc = repo("diff", "minilm@0.1.0", "minilm@0.1.1", check=False)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert first.digest in proc.stderr and "corrupt" in proc.stderr


def test_diff_of_a_small_whole_object_that_is_corrupt_is_an_integrity_error(repo, work):
    """A small file is one whole object (no chunks): a byte flipped in its tensor data read as
    a changed tensor, exit 0, while checkout and verify said corrupt (exit 3)."""
    from packs_support import flip_byte, store

    write_safetensors(work / "m.safetensors", {"emb": ("U8", [16], b"\1" * 16), "head": ("U8", [16], b"\2" * 16)})
    repo("add", "m.safetensors", "--name", "n")
    write_safetensors(work / "m.safetensors", {"emb": ("U8", [16], b"\1" * 16), "head": ("U8", [16], b"\3" * 16)})
    repo("add", "m.safetensors", "--name", "n")
    assert repo.json("diff", "n@0.1.0", "n@0.1.1")["tensors"]["m.safetensors"]["changed"] == ["head"]
    digest = repo.json("show", "n@0.1.1")["digest"]
    path = store(repo).path(digest)
    flip_byte(path, path.stat().st_size - 20)  # in emb's bytes
    proc = repo("diff", "n@0.1.0", "n@0.1.1", check=False)
    assert proc.returncode == 3 and f"object {digest} is corrupt" in proc.stderr, (proc.stdout, proc.stderr)
