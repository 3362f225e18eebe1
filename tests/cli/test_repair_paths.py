"""Paths of ``mvc fsck --repair`` no other test takes (SPEC §5.1, issue 13): the repair's second
look under the repository lock, when an add heals a damaged pack between fsck's check and its
fix; and the way back for a store written before packs, whose chunks are loose SHA-256 objects.
Each test works on its own copy of one repository and its directory remote (packs_support)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess

from packs_support import Setup, as_before_packs, built, pack_of, packs, setup, store  # noqa: F401  (fixtures)
from packs_support import flip_byte, pack_dir, store_at
from support import BIN

from mvc.core.packs import chunk_matches


def _same(repo, ref: str, original: str) -> None:
    """``ref`` checks out byte for byte as the file it was added from."""
    out = repo.cwd / "out.bin"
    repo("checkout", ref, "-o", out.name, "--force")
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256((repo.cwd / original).read_bytes()).digest()
    out.unlink()


def _verified(repo) -> None:
    assert json.loads(repo("verify", "--json").stdout)["problems"] == []
    doc = repo.json("fsck")
    assert doc["ok"] and doc["problems"] == [], doc


def test_an_add_that_heals_a_pack_while_fsck_waits_for_the_lock_leaves_its_entry(setup: Setup):
    """fsck --repair finds the fine-tune's pack cut short (its one entry corrupt) and stops
    (MVC_STOP_AT=fsck:checked) before it takes the lock; an add of the same file writes that
    pack again, whole, under the same name. Let go, the repair sees under the lock that the
    entry is sound: it keeps it, sets nothing aside, and reports nothing left to pull."""
    repo = setup.repo
    own = (set(packs(repo)) - {pack_of(repo, setup.a)}).pop()
    (entry,) = packs(repo)[own]
    pack = pack_dir(repo.mvc_dir) / f"{own}.pack"
    sound = pack.read_bytes()
    pack.chmod(0o644)
    os.truncate(pack, len(sound) - 10)
    assert [p["problem"] for p in json.loads(repo("verify", "--json", check=False).stdout)["problems"]] \
        == ["corrupt"]

    fsck = subprocess.Popen([str(BIN), "fsck", "--repair", "--json"], cwd=repo.cwd,
                            env=dict(repo.env, MVC_STOP_AT="fsck:checked"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status = os.waitpid(fsck.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), fsck.stderr.read()
    try:
        assert repo.json("add", "b.safetensors", "--name", "m")["created"] is False
        assert pack.read_bytes() == sound  # the same pack, written again whole
    finally:
        fsck.send_signal(signal.SIGCONT)
    out, err = fsck.communicate(timeout=60)
    doc = json.loads(out)
    assert fsck.returncode == 0 and doc["ok"], (out, err)
    assert not [p for p in doc["problems"] if not p["repaired"]], doc["problems"]
    assert not (repo.mvc_dir / "lost-found").exists()  # nothing set aside
    assert packs(repo)[own] == [entry] and pack.read_bytes() == sound
    _same(repo, "m@0.1.1", "b.safetensors")
    _verified(repo)


def test_a_loose_chunk_of_a_store_written_before_packs_is_set_aside_and_pulled_again(setup: Setup):
    """Both the store and its remote as mvc kept them before packs: m@0.1.0's chunks loose,
    named ``sha256:…``. One of them changed in place: fsck names it, --repair moves it to
    .mvc/lost-found (exit 3 until the pull, naming it), the pull fetches it, checked (into a pack, still named by its SHA-256)."""
    repo, remote = setup.repo, setup.remote
    loose = as_before_packs(store(repo), setup.a, drop_packs=False)  # m@0.1.1 keeps its packs
    assert as_before_packs(store_at(remote), setup.a, drop_packs=False) == loose  # pushed by that mvc
    assert all(d.startswith("sha256:") for d in loose)
    (repo.mvc_dir / "statcache.db").unlink(missing_ok=True)
    _same(repo, "m@0.1.0", "a.safetensors")
    damaged = loose[2]
    path = store(repo).path(damaged)
    flip_byte(path, 100)
    broken = path.read_bytes()

    proc = repo("fsck", "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 3 and [(p["kind"], p["repaired"]) for p in doc["problems"]] \
        == [("object-corrupt", False)], doc
    assert damaged in doc["problems"][0]["message"]
    proc = repo("fsck", "--repair", "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    left = [p for p in doc["problems"] if not p["repaired"]]
    assert [p["kind"] for p in left] == ["object-missing"] and "'mvc pull m@0.1.0'" in left[0]["message"]
    kept = repo.mvc_dir / "lost-found" / damaged.removeprefix("sha256:")
    assert kept.read_bytes() == broken and not path.exists()

    assert repo("pull", "m@0.1.0").stdout.startswith("Pulled 1 objects")  # that chunk alone
    there = store(repo).locate(damaged)  # kept in a pack now, under its SHA-256 name
    assert there.pack is not None and chunk_matches(damaged, there.path.read_bytes()[there.offset:][:there.size])
    assert store(repo).recipe(setup.a).chunks[2].digest == damaged  # the old recipe, whole again
    _same(repo, "m@0.1.0", "a.safetensors")
    _same(repo, "m@0.1.1", "b.safetensors")
    _verified(repo)
