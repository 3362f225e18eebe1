"""verify, fsck, gc and the audit chain through the Repo API, in-process."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest

from mvc import Repo
from mvc.core.errors import IntegrityError


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MVC_USER", "ana")
    r = Repo.init(tmp_path)
    r.config_set("gc.grace_seconds", 0)
    yield r
    r.close()


def put(r: Repo, name: str, content: bytes, model: str = "m", **kw):
    path = r.layout.work_dir / name
    path.write_bytes(content)
    return r.add(path, model, **kw)


def model_dir(r: Repo, files: dict[str, bytes]):
    root = r.layout.work_dir / "net"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def corrupt(path, data=b"bit rot"):
    path.chmod(0o644)
    path.write_bytes(data)
    path.chmod(0o444)


def test_verify_finds_missing_and_corrupt(repo):
    a = put(repo, "a.bin", b"A" * 100)
    b = put(repo, "b.bin", b"B" * 100, model="n")
    assert repo.verify().ok and repo.verify().checked == 2
    corrupt(repo.store.path(a.digest))
    os.unlink(repo.store.path(b.digest))
    report = repo.verify()
    assert not report.ok
    assert {(p.digest, p.problem, p.used_by) for p in report.problems} == {
        (a.digest, "corrupt", ("m@0.1.0",)), (b.digest, "missing", ("n@0.1.0",))}
    only_n = repo.verify(["n"])
    assert [p.digest for p in only_n.problems] == [b.digest]


def test_verify_a_directory_checks_manifest_and_every_file(repo):
    root = model_dir(repo, {"w.bin": b"w" * 50, "sub/c.json": b"{}"})
    v = repo.add(root, "net")
    assert repo.verify(["net"]).checked == 3
    entry = next(e for e in repo.show("net").files if e["path"] == "sub/c.json")
    os.unlink(repo.store.path(entry["digest"]))
    problems = repo.verify(["net"]).problems
    assert [(p.problem, p.used_by) for p in problems] == [("missing", ("net@0.1.0:sub/c.json",))]
    corrupt(repo.store.path(v.digest))
    assert any(p.digest == v.digest and p.problem == "corrupt" for p in repo.verify(["net"]).problems)


def test_gc_keeps_referenced_and_archived_deletes_the_rest(repo):
    keep = put(repo, "a.bin", b"keep")
    root = model_dir(repo, {"w.bin": b"dir weights", "x.bin": b"more"})
    repo.add(root, "net")
    old = put(repo, "b.bin", b"archived but kept", model="old")
    repo.archive(old.ref)
    data = repo.layout.work_dir / "train.csv"
    data.write_bytes(b"1,2,3\n")
    put(repo, "c.bin", b"with data", model="d", data=[data], store_data=True)
    garbage = repo.store.put_bytes(b"nobody needs me")
    before = set(repo.store.iter_digests())
    dry = repo.gc(dry_run=True)
    assert (dry.objects, dry.bytes, dry.digests) == (1, len(b"nobody needs me"), (garbage,))
    assert set(repo.store.iter_digests()) == before
    done = repo.gc()
    assert done.digests == (garbage,) and not repo.store.has(garbage)
    assert repo.store.has(keep.digest)
    assert repo.verify().ok and repo.fsck().ok
    assert repo.audit()[0].action == "gc"
    assert repo.gc().objects == 0


def test_gc_grace_period_keeps_young_objects(repo):
    # a registry with versions: with none beside old objects, gc refuses (it may have been lost)
    (repo.layout.work_dir / "m.bin").write_bytes(b"weights")
    repo.add(repo.layout.work_dir / "m.bin", "m")
    repo.config_set("gc.grace_seconds", 3600)
    digest = repo.store.put_bytes(b"young")
    result = repo.gc()
    assert result.objects == 0 and result.kept_recent == 1 and repo.store.has(digest)
    old = time.time() - 7200
    os.utime(repo.store.path(digest), (old, old))
    repo.store.put_bytes(b"young")  # storing it again makes it young again
    assert repo.gc().objects == 0
    os.utime(repo.store.path(digest), (old, old))
    assert repo.gc().digests == (digest,)


def test_add_restores_objects_gc_removed_before_it_registered(repo, monkeypatch):
    """add stores objects before taking the lock; gc may run in between."""
    root = model_dir(repo, {"w.bin": b"weights!", "c.json": b"{}"})
    from mvc.core import artifacts

    real = artifacts.store_path
    calls = []

    def store_then_gc(*args, **kw):
        stored = real(*args, **kw)
        if not calls:
            calls.append(1)
            assert repo.gc().objects == 3  # nothing references them yet
        return stored

    monkeypatch.setattr(artifacts, "store_path", store_then_gc)
    v = repo.add(root, "net")
    assert repo.verify([v.ref]).ok and repo.verify([v.ref]).checked == 3


def test_gc_refuses_when_a_manifest_is_unreadable(repo):
    root = model_dir(repo, {"w.bin": b"w"})
    v = repo.add(root, "net")
    os.unlink(repo.store.path(v.digest))
    with pytest.raises(IntegrityError, match="manifest"):
        repo.gc()
    assert repo.store.has(repo.verify().problems[0].digest) is False


def test_fsck_repairs_tmp_strays_and_lineage_but_not_lost_objects(repo):
    repo.config_set("gc.grace_seconds", 600)
    a = put(repo, "a.bin", b"A")
    stray = repo.layout.tmp / "obj-crashed"
    stray.write_bytes(b"half")
    report = repo.fsck()
    assert report.ok and report.notes  # young: maybe in use, left alone
    old = time.time() - 3600
    os.utime(stray, (old, old))
    repo.layout.lineage_file.write_text("{not json")
    report = repo.fsck()
    assert not report.ok and {p.kind for p in report.problems} == {"tmp-stray", "lineage"}
    fixed = repo.fsck(repair=True)
    assert fixed.ok and all(p.repaired for p in fixed.problems)
    assert not stray.exists() and repo.fsck().problems == ()
    os.unlink(repo.store.path(a.digest))
    left = repo.fsck(repair=True)
    assert not left.ok and [(p.kind, p.repaired) for p in left.problems] == [("object-missing", False)]


def test_fsck_removes_corrupt_unreferenced_objects_and_strays_in_objects(repo):
    put(repo, "a.bin", b"A")
    junk = repo.store.put_bytes(b"junk")
    corrupt(repo.store.path(junk))
    (repo.layout.objects / "zz").write_bytes(b"stray")  # a folder there is named and left (test_fsck)
    report = repo.fsck(repair=True)
    assert {p.kind for p in report.problems} == {"object-corrupt", "object-stray"} and report.ok
    assert not repo.store.has(junk) and not (repo.layout.objects / "zz").exists()
    assert repo.fsck().problems == ()


def tamper(r: Repo, sql: str, *args) -> None:
    conn = sqlite3.connect(r.layout.registry_db)
    conn.execute(sql, args)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("how, seq", [
    ("edit", 2), ("delete", 2), ("reorder", 2),
])
def test_audit_verify_names_the_first_broken_link(repo, how, seq):
    for i in range(3):
        put(repo, f"{i}.bin", bytes([i]) * 10)
    assert repo.audit_verify().ok
    if how == "edit":
        tamper(repo, "UPDATE events SET user = 'mallory' WHERE seq = 2")
    elif how == "delete":
        tamper(repo, "DELETE FROM events WHERE seq = 2")
    else:
        rows = sqlite3.connect(repo.layout.registry_db).execute(
            "SELECT ts, user, action, target, details, prev, hash FROM events WHERE seq IN (2, 3) ORDER BY seq").fetchall()
        for target_seq, row in zip((3, 2), rows):
            tamper(repo, "UPDATE events SET ts=?, user=?, action=?, target=?, details=?, prev=?, hash=?"
                   " WHERE seq = ?", *row, target_seq)
    check = repo.audit_verify()
    assert not check.ok and check.broken_at == seq and f"event {seq}" in check.message
    assert not repo.fsck().ok


def test_audit_lists_newest_first_with_limit(repo):
    put(repo, "a.bin", b"A")
    events = repo.audit()
    assert [e.seq for e in events] == sorted((e.seq for e in events), reverse=True)
    assert set(events[0].to_dict()) == {"seq", "ts", "user", "action", "target", "details", "prev", "hash"}
    assert len(repo.audit(limit=1)) == 1


def test_one_answer_to_which_objects_a_version_needs(repo):
    """verify, gc, fsck, push, pull and stats all ask integrity.needed_objects: the
    artifact first, then the files its manifest lists (by digest), then stored data."""
    from mvc.core import integrity

    root = model_dir(repo, {"a.bin": b"a", "b/c.bin": b"c", "same.bin": b"a"})
    (repo.layout.work_dir / "train.csv").write_bytes(b"x,y\n")
    v = repo.add(root, "net", data=[repo.layout.work_dir / "train.csv"], store_data=True)
    needs = integrity.needed_objects(repo.registry, repo.store)
    a, c, data = (repo.store.put_bytes(b) for b in (b"a", b"c", b"x,y\n"))
    assert needs.digests == [v.digest, *sorted({a, c}), data]
    assert needs.by_digest[a] == ["net@0.1.0:a.bin", "net@0.1.0:same.bin"]
    assert needs.by_digest[data] == [f"net@0.1.0 (data {repo.layout.work_dir / 'train.csv'})"]
    # a manifest that cannot be read is named, not guessed at; the fetch callback runs first
    os.unlink(repo.store.path(v.digest))
    fetched = []
    needs = integrity.needed_objects(repo.registry, repo.store, fetch=fetched.append)
    assert fetched == [v.digest] and v.digest in needs.unreadable
    with pytest.raises(IntegrityError, match="missing"):
        needs.require_readable()


def test_a_pack_shorter_than_its_index_says_is_corrupt_from_where_it_ends(repo):
    """verify reads every pack whole (SPEC §5.1); the chunks past a truncated pack file's end
    are corrupt copies, named with the versions that need them; the others are intact."""
    from packs_support import weights

    v = repo.add(weights(repo.layout.work_dir / "m.safetensors"), "m")
    (name, entries), = repo.store.packs.all().items()
    pack = repo.store.packs.pack_path(name)
    os.truncate(pack, entries[-1].offset + 10)
    report = repo.verify()
    assert not report.ok
    assert {(p.digest, p.problem, p.used_by) for p in report.problems} == {  # the chunk, not its sound recipe
        (entries[-1].digest, "corrupt", ("m@0.1.0",))}
    assert report.checked == len(entries)  # the chunks; the file they make up is not intact
    fsck = repo.fsck(repair=True)
    assert any("shorter than its index says" in p.message and f"pack {name}" in p.message
               for p in fsck.problems)
    assert not pack.exists()  # written again without the cut-off entry, which now counts as missing
    assert [(p.digest, p.problem) for p in repo.verify().problems] == [(entries[-1].digest, "missing")]
