"""mvc gc [--dry-run] (SPEC §3 Integrity)."""

from __future__ import annotations

import os
import time

import pytest

from support import model_dir, write


def objects(repo):
    return sorted(p for p in (repo.mvc_dir / "objects").rglob("*") if p.is_file())


def age_all(repo, seconds=3600):
    t = time.time() - seconds
    for p in objects(repo):
        os.utime(p, (t, t))


def test_gc_frees_only_unreferenced(repo, work):
    repo.add("a", b"keep me")
    model_dir(work / "net")
    repo("add", "net", "--name", "net")
    repo.add("old", b"archived")
    repo("archive", "old")
    write(work / "other.bin", b"x" * 5000)
    repo("add", "other.bin", "--name", "gone", "--version", "1.0.0")
    # make 'gone' unreferenced the hard way: an object nothing lists
    repo.json("gc", "--dry-run")
    write(work / "junk", b"y" * 3000)
    kept = objects(repo)
    # an unreferenced object, as a killed add leaves it
    from mvc.core.objects import ObjectStore

    junk = ObjectStore(repo.mvc_dir / "objects", repo.mvc_dir / "tmp").put_file(work / "junk")[0]
    young = repo.json("gc", "--dry-run")
    assert young["objects"] == 0 and young["kept_recent"] == 1
    age_all(repo)
    dry = repo.json("gc", "--dry-run")
    assert (dry["objects"], dry["bytes"], dry["digests"]) == (1, 3000, [junk])
    assert "Would free 1 object(s)" in repo("gc", "--dry-run").stdout
    done = repo.json("gc")
    assert (done["objects"], done["bytes"], done["dry_run"]) == (1, 3000, False)
    assert objects(repo) == kept
    repo("verify")
    repo("fsck")
    assert repo.json("gc")["objects"] == 0


def test_gc_needs_admin(repo):
    repo.add("a", b"A")
    repo("access", "grant", "tester@example.com", "admin")
    repo("access", "grant", "mia", "maintainer")
    proc = repo("gc", env={"MVC_USER": "mia"}, check=False)
    assert proc.returncode == 4 and "admin" in proc.stderr
    repo("gc", "--dry-run", env={"MVC_USER": "mia"})  # reading is allowed


def unreferenced(repo, work, data: bytes) -> str:
    """An object nothing lists, as a killed add leaves it (written just now: young)."""
    from mvc.core.objects import ObjectStore

    write(work / "junk", data)
    return ObjectStore(repo.mvc_dir / "objects", repo.mvc_dir / "tmp").put_file(work / "junk")[0]


def test_gc_grace_overrides_the_config(repo, work):
    repo.add("a", b"keep me")
    young = unreferenced(repo, work, b"y" * 3000)
    kept = repo.json("gc")
    assert (kept["objects"], kept["kept_recent"], kept["grace_seconds"]) == (0, 1, 600)
    assert "younger than the grace period (600 s; --grace 0 deletes them now)" in repo("gc").stdout
    # --grace 0: every unreferenced object now, like git's --prune=now; nothing a version needs
    assert repo.json("gc", "--grace", "0", "--dry-run")["digests"] == [young]
    done = repo.json("gc", "--grace", "0")
    assert (done["digests"], done["bytes"], done["grace_seconds"]) == ([young], 3000, 0)
    repo("verify")
    # the option wins over gc.grace_seconds, either way
    repo("config", "set", "gc.grace_seconds", "0")
    old = unreferenced(repo, work, b"z" * 100)
    age_all(repo, 1800)
    assert repo.json("gc", "--grace", "3600")["kept_recent"] == 1
    assert repo.json("gc", "--grace", "60")["digests"] == [old]


def test_gc_grace_must_be_seconds(repo):
    before = repo.state()
    for bad in ("-1", "soon", "nan"):
        repo.fail("gc", "--grace", bad, code=2)
    assert repo.state() == before


# -- packs (SPEC §5.1): a chunk lives while a recipe a version needs names it ------------------

def _half_dead_pack(repo, work):
    """A fine-tune stored as a killed add leaves it (unreferenced: a recipe and a pack of all
    its chunks), then its base added as a version: the base shares 5 of its 7 chunks with the
    fine-tune's pack and writes the other 2 to a pack of its own. Returns (version, orphan)."""
    from packs_support import store, weights

    orphan, _ = store(repo).put_file(weights(work / "tuned.safetensors", changed=(4, 5)))
    weights(work / "m.safetensors")
    return repo.json("add", "m.safetensors", "--name", "m"), orphan


def test_gc_deletes_a_dead_pack_and_repacks_a_half_dead_one(repo, work):
    from packs_support import age_packs, pack_of, packs, store, stored_files, weights

    version, orphan = _half_dead_pack(repo, work)
    s = store(repo)
    gone, _ = s.put_file(weights(work / "other.safetensors", seed=9))  # nothing shared: all dead
    chunks = {d: {c.digest for c in s.recipe(d).chunks} for d in (version["digest"], orphan, gone)}
    half, dead, own = pack_of(repo, orphan), pack_of(repo, gone), pack_of(repo, version["digest"])
    assert len({half, dead, own}) == 3 and len(chunks[orphan] & chunks[version["digest"]]) == 5
    assert repo.json("stats")["stored"] == stored_files(repo)  # packs and indexes count whole
    live = chunks[version["digest"]]  # the header is the same in all three files
    kept = repo.json("gc")  # young: kept whole
    assert kept["objects"] == 0 and kept["kept_recent"] == 2 + 2 + 6 and set(packs(repo)) == {half, dead, own}
    age_packs(repo)
    before = stored_files(repo)
    dry = repo.json("gc", "--dry-run")
    assert set(packs(repo)) == {half, dead, own} and stored_files(repo) == before
    done = repo.json("gc")
    assert {**dry, "dry_run": False} == done
    assert set(done["digests"]) == {orphan, gone} | ((chunks[orphan] | chunks[gone]) - live)
    assert done["bytes"] == before - stored_files(repo) > 6 << 20
    now = packs(repo)
    assert dead not in now and half not in now and own in now and len(now) == 2
    (new,) = set(now) - {own}
    assert {e.digest for e in now[new]} == chunks[orphan] & live
    assert not (repo.mvc_dir / "objects" / "pack" / f"{half}.pack").exists()
    repo("verify")
    assert repo.json("fsck")["problems"] == []
    repo("checkout", "m", "-o", "out.safetensors")
    assert (work / "out.safetensors").read_bytes() == (work / "m.safetensors").read_bytes()
    assert repo.json("stats")["stored"] == stored_files(repo)
    assert repo.json("gc")["objects"] == 0


@pytest.mark.parametrize("aged", [False, True], ids=["next-gc-soon", "next-gc-after-the-grace-period"])
def test_a_crash_between_repacking_and_deleting_the_old_pack_loses_nothing(repo, work, aged):
    """Killed between its repack and the old pack's deletion, gc leaves both, the same live
    chunks in each; the next gc finishes the job. Once both were older than the grace period,
    the next gc planned to drop the repack as a second copy of chunks the old pack held,
    repacked the old one into a pack of that very name, then deleted it: the version's only
    copy (a review of gc's second-copy pass)."""
    import signal

    from packs_support import age_packs, pack_of, packs

    version, orphan = _half_dead_pack(repo, work)
    half = pack_of(repo, orphan)
    age_packs(repo)
    proc = repo("gc", env={"MVC_CRASH_AT": "gc:repacked"}, check=False)
    assert proc.returncode == -signal.SIGKILL
    after = packs(repo)
    assert half in after and len(after) == 3  # the new pack is in, the old one not yet gone
    repo("verify")
    assert [p for p in repo.json("fsck")["problems"] if p["kind"].startswith("object")] == []
    repo("checkout", "m", "-o", "out.safetensors")
    assert (work / "out.safetensors").read_bytes() == (work / "m.safetensors").read_bytes()
    if aged:
        age_packs(repo)
    done = repo.json("gc")  # the next gc finishes the job
    assert len(done["digests"]) == 2 and half not in packs(repo) and len(packs(repo)) == 2
    repo("verify")


def test_gc_refuses_to_repack_a_corrupt_chunk_a_version_needs(repo, work):
    from packs_support import age_packs, flip_byte, pack_of, packs, store

    version, orphan = _half_dead_pack(repo, work)
    half = pack_of(repo, orphan)
    shared = store(repo).recipe(version["digest"]).chunks[1]  # layer0: in the half-dead pack
    entry = next(e for e in packs(repo)[half] if e.digest == shared.digest)
    flip_byte(repo.mvc_dir / "objects" / "pack" / f"{half}.pack", entry.offset + 3)
    age_packs(repo)
    files = sorted((repo.mvc_dir / "objects").rglob("*"))
    proc = repo("gc", check=False)
    assert proc.returncode == 3 and shared.digest in proc.stderr and "m@0.1.0" in proc.stderr
    assert "nothing was deleted" in proc.stderr
    assert sorted((repo.mvc_dir / "objects").rglob("*")) == files
    assert not [p for p in (repo.mvc_dir / "tmp").iterdir()]


def test_a_pack_left_without_its_index_is_fscks_not_gcs(repo, work):
    """A pack file without its index (a crash between gc's two unlinks, or an index deleted by
    hand): gc leaves it, since nothing says what it holds, and refuses to run while a version
    misses a chunk; fsck --repair removes it only when no version misses a chunk, else says how
    to get them back."""
    from packs_support import pack_of, store, weights

    repo("config", "set", "gc.grace_seconds", "0")
    needed = repo.json("add", weights(work / "m.safetensors", seed=3), "--name", "m")["digest"]
    gone, _ = store(repo).put_file(weights(work / "other.safetensors", seed=9))
    folder = repo.mvc_dir / "objects" / "pack"
    mine, other = (folder / f"{pack_of(repo, d)}.pack" for d in (needed, gone))
    for pack in (mine, other):
        pack.with_suffix(".idx").unlink()
    proc = repo("gc", check=False)
    assert proc.returncode == 3 and "which the store lacks" in proc.stderr
    assert mine.exists() and other.exists()  # m's chunks are in one of them
    proc = repo("fsck", "--repair", check=False)
    assert proc.returncode == 3 and "may hold chunks versions miss" in proc.stdout + proc.stderr
    assert mine.exists() and other.exists()
    # the same bytes added again: the same pack, whole again with its index; m verifies
    repo.json("add", work / "m.safetensors", "--name", "m")
    assert mine.with_suffix(".idx").exists() and repo.json("verify")["ok"] is True
    repo.json("gc")
    assert mine.exists() and other.exists()  # the lone pack is fsck's, not gc's
    repo("fsck", "--repair")
    assert mine.exists() and not other.exists()


def test_a_chunk_named_by_a_young_recipe_lives(repo, work):
    """An add or a pull that has written its recipe but not yet registered the version: its
    chunks stay even in an old pack (the recipe's age is what counts)."""
    from packs_support import age_packs, packs, store

    version, orphan = _half_dead_pack(repo, work)
    age_packs(repo)
    os.utime(store(repo).recipe_path(orphan))
    before = packs(repo)
    done = repo.json("gc")
    assert (done["objects"], done["kept_recent"]) == (0, 1 + 2) and packs(repo) == before
    assert store(repo).complete(orphan)


def test_a_recipe_damaged_to_name_a_chunk_the_store_lacks_stops_gc(repo, work):
    """A recipe edited in place (one hex digit of a chunk's name) still parses, but no longer
    names a chunk the version needs, which then looks like garbage: gc refuses (exit 3) and
    deletes nothing, so putting the good recipe back makes the version whole again."""
    import json

    from packs_support import weights

    needed = repo.json("add", weights(work / "m.safetensors", seed=5), "--name", "m")["digest"]
    recipe = next((repo.mvc_dir / "objects").glob(f"*/{needed.split(':')[1][2:]}.recipe"))
    good = recipe.read_bytes()
    doc = json.loads(good)
    name = doc["chunks"][1]["digest"]
    doc["chunks"][1]["digest"] = name[:-1] + ("0" if name[-1] != "0" else "1")
    recipe.chmod(0o644)
    recipe.write_bytes(json.dumps(doc).encode())
    packs = sorted((repo.mvc_dir / "objects" / "pack").iterdir())
    before = {p: p.read_bytes() for p in packs}
    proc = repo("gc", "--grace", "0", check=False)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "which the store lacks" in proc.stderr and "m@0.1.0" in proc.stderr
    assert {p: p.read_bytes() for p in sorted((repo.mvc_dir / "objects" / "pack").iterdir())} == before
    recipe.write_bytes(good)
    assert repo.json("verify")["ok"] is True
