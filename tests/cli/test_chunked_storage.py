"""Chunked storage through the installed mvc (SPEC §5.1): a real model and a fine-tune share
their chunks on disk, round trips are byte-identical, a corrupt chunk is found by verify and
by checkout, gc keeps a chunk while any recipe needs it, a SIGKILLed add leaves a consistent
store, and a store of whole objects (written before chunking) keeps working."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

from realmodel import fine_tune
from support import BIN

from mvc.core.objects import ObjectStore


def _store(repo) -> ObjectStore:
    return ObjectStore(repo.mvc_dir / "objects", repo.mvc_dir / "tmp")


def _damage(store: ObjectStore, digest: str) -> None:
    """Flip three bytes of a chunk where it is kept (inside a pack, next to other chunks)."""
    there = store.locate(digest, fresh=True)
    there.path.chmod(0o644)
    with open(there.path, "r+b") as f:
        f.seek(there.offset + 10)
        old = f.read(3)
        f.seek(there.offset + 10)
        f.write(bytes(b ^ 0xFF for b in old))


def test_real_model_and_fine_tune_round_trip_and_share_chunks(repo, work, real_model):
    shutil.copy(real_model, work / "model.safetensors")
    fine_tune(real_model, work / "tuned.safetensors", 0.1)
    a = repo.json("add", "model.safetensors", "--name", "minilm")
    b = repo.json("add", "tuned.safetensors", "--name", "minilm-ft")
    store = _store(repo)
    assert store.is_chunked(a["digest"]) and store.is_chunked(b["digest"])
    stats = repo.json("stats")
    size = real_model.stat().st_size
    assert stats["logical"] == 2 * size
    assert stats["stored"] <= 1.15 * size
    for ref, src in (("minilm", "model.safetensors"), ("minilm-ft", "tuned.safetensors")):
        repo("checkout", ref, "-o", f"out-{src}")
        assert (work / f"out-{src}").read_bytes() == (work / src).read_bytes()
    repo("checkout", "minilm", "-o", "linked.safetensors", "--link", "hardlink")  # copied, verified
    assert (work / "linked.safetensors").read_bytes() == (work / "model.safetensors").read_bytes()
    assert repo.json("verify")["problems"] == []


def test_corrupt_chunk_found_by_verify_and_checkout(repo, work, real_model):
    shutil.copy(real_model, work / "model.safetensors")
    digest = repo.json("add", "model.safetensors", "--name", "m")["digest"]
    store = _store(repo)
    chunk = store.recipe(digest).chunks[5]
    _damage(store, chunk.digest)
    proc = repo("verify", check=False)  # the table of problems on stdout, exit 3
    assert proc.returncode == 3 and chunk.digest in proc.stdout
    proc = repo.fail("checkout", "m", "-o", "out.safetensors", code=3)
    assert f"chunk {chunk.digest}" in proc.stderr
    assert not (work / "out.safetensors").exists()
    assert not [p for p in work.iterdir() if p.name.startswith(".mvc-tmp")]
    there = store.locate(chunk.digest)
    store.packs.index_path(there.pack).unlink()  # the pack gone, index first as gc removes one
    there.path.unlink()
    proc = repo("verify", "m", check=False)
    assert proc.returncode == 3 and "missing" in proc.stdout
    proc = repo.fail("checkout", "m", "-o", "out.safetensors", code=3)
    assert "missing" in proc.stderr and not (work / "out.safetensors").exists()


def test_gc_keeps_shared_chunks_while_a_recipe_needs_them(repo, work, real_model):
    """An unreferenced file (what a killed add leaves) shares most chunks with a version: gc
    removes its recipe and its own chunks, keeps the shared ones; the version stays whole."""
    fine_tune(real_model, work / "tuned.safetensors", 0.1)
    store = _store(repo)
    orphan, _ = store.put_file(real_model)
    digest = repo.json("add", "tuned.safetensors", "--name", "ft")["digest"]
    mine = {c.digest for c in store.recipe(orphan).chunks}
    theirs = {c.digest for c in store.recipe(digest).chunks}
    shared = mine & theirs
    assert shared and mine - theirs
    repo("config", "set", "gc.grace_seconds", "0")
    done = repo.json("gc")
    store = _store(repo)  # the packs as gc left them
    assert orphan in done["digests"] and not store.has(orphan)
    assert all(store.has(d) for d in shared)
    assert not any(store.has(d) for d in mine - theirs)
    assert repo.json("verify")["problems"] == []
    repo("checkout", "ft", "-o", "out.safetensors")
    assert (work / "out.safetensors").read_bytes() == (work / "tuned.safetensors").read_bytes()


def _files(folder) -> list:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _growing_pack(tmp) -> bool:
    """True once the pack an add is writing in tmp/ holds a few MiB (not yet renamed in)."""
    try:
        return any(p.stat().st_size > (4 << 20) for p in tmp.glob("pack-*"))
    except FileNotFoundError:  # renamed in meanwhile
        return False


def test_sigkill_mid_add_leaves_a_consistent_store(repo, work, real_model):
    """SIGKILL while the add's pack is being written in tmp/: nothing in objects/ names it, no
    recipe is there without its chunks, fsck names only the temporary (young: a note, then
    removed by --repair once old), and the add run again stores the file whole."""
    objects, tmp = repo.mvc_dir / "objects", repo.mvc_dir / "tmp"
    for attempt in range(2):
        fine_tune(real_model, work / "m.safetensors", 0.5, seed=attempt + 1)  # new chunks each time
        before = _files(objects)
        proc = subprocess.Popen([str(BIN), "add", "m.safetensors", "--name", "m"], cwd=repo.cwd,
                                env=repo.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None and not _growing_pack(tmp):
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL, "the add finished before its pack was seen growing"
        assert _files(objects) == before  # the pack never became visible
        assert [p.name[:5] for p in tmp.iterdir()] == ["pack-"]
        store = _store(repo)
        for recipe in objects.rglob("*.recipe"):
            assert store.complete("sha256:" + recipe.parent.name + recipe.stem)
        found = repo.json("fsck", check=False)
        assert found["problems"] == [], found  # the young temporary is only noted
        assert any("pack-" in note for note in found["notes"]), found
        repo("config", "set", "gc.grace_seconds", "0")
        repo("fsck", "--repair")
        assert list(tmp.iterdir()) == [] and repo("fsck").returncode == 0
        repo("config", "set", "gc.grace_seconds", "600")
    repo.json("add", "m.safetensors", "--name", "m")
    assert repo.json("verify")["problems"] == []
    repo("checkout", "m", "-o", "out.safetensors")
    assert (work / "out.safetensors").read_bytes() == (work / "m.safetensors").read_bytes()


def test_store_of_whole_objects_keeps_working(repo, work, real_model):
    """A store written before chunking keeps large files whole: turn a chunked version back
    into one whole object, as an older mvc left it; everything reads it as before."""
    shutil.copy(real_model, work / "model.safetensors")
    digest = repo.json("add", "model.safetensors", "--name", "m")["digest"]
    store = _store(repo)
    whole = store.path(digest)
    shutil.copy(real_model, whole)
    whole.chmod(0o444)
    store.recipe_path(digest).unlink()
    shutil.rmtree(store.root / "pack")
    assert not store.is_chunked(digest)
    assert repo.json("verify")["problems"] == []
    assert repo("fsck").returncode == 0
    repo("config", "set", "gc.grace_seconds", "0")
    assert repo.json("gc")["objects"] == 0
    repo("checkout", "m", "-o", "out.safetensors", "--link", "hardlink")
    assert os.path.samefile(work / "out.safetensors", whole)
    assert repo.json("add", "model.safetensors", "--name", "m")["created"] is False


def test_gc_racing_add_loses_nothing(repo, work, real_model):
    """gc with no grace period, run again and again while chunked adds write their packs and
    recipes (unreferenced until each add commits) and reuse the chunks of a pack that nothing
    references (a killed add's, which gc removes meanwhile): every version added stays whole."""
    repo("config", "set", "gc.grace_seconds", "0")
    orphan, _ = _store(repo).put_file(real_model)
    made = []
    for attempt in range(3):
        name = f"m{attempt}.safetensors"
        fine_tune(real_model, work / name, 0.3, seed=attempt + 3)
        add = subprocess.Popen([str(BIN), "add", name, "--name", "m"], cwd=repo.cwd, env=repo.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while add.poll() is None:
            repo("gc", check=False)
        assert add.wait() == 0, add.stderr.read()
        made.append(name)
    repo("gc")
    assert not _store(repo).has(orphan)
    assert repo.json("verify")["problems"] == [] and repo("fsck").returncode == 0
    for i, name in enumerate(made):
        repo("checkout", f"m@0.1.{i}", "-o", f"out-{name}")
        assert (work / f"out-{name}").read_bytes() == (work / name).read_bytes()


def test_a_file_over_many_packs_reads_with_few_descriptors(repo, work):
    """A file whose chunks lie in more packs than the process may open files: checkout (which
    re-hashes, the trust cache gone) and verify hold one pack open at a time (a review found a
    version that kept every pack open fail with 'Too many open files')."""
    parts = []
    for i in range(40):  # 40 versions of their own, each stored in a pack of its own
        part = os.urandom(5 << 20)  # chunked, and cut by content
        (work / f"p{i}.bin").write_bytes(part)
        repo("add", f"p{i}.bin", "--name", f"p{i}")
        parts.append(part)
    (work / "all.bin").write_bytes(b"".join(parts))
    repo("add", "all.bin", "--name", "all")
    packs = list((repo.mvc_dir / "objects" / "pack").glob("*.pack"))
    assert len(packs) >= 40
    for name in ("statcache.db", "statcache.db-wal", "statcache.db-shm"):
        (repo.mvc_dir / name).unlink(missing_ok=True)
    for args in (["checkout", "all", "-o", str(work / "out.bin")], ["verify", "all"]):
        proc = subprocess.run(["sh", "-c", 'ulimit -n 32 && exec "$@"', "sh", str(BIN), *args],
                              cwd=work, env=repo.env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (args, proc.stderr)
    assert (work / "out.bin").read_bytes() == b"".join(parts)
