"""mvc gc [--dry-run] (SPEC §3 Integrity)."""

from __future__ import annotations

import os
import time

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
