"""mvc fsck [--repair] (SPEC §3 Integrity)."""

from __future__ import annotations

import json
import os
import time

import pytest


def age(path, seconds=3600):
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_clean_repository(repo):
    repo.add("m", b"A")
    doc = repo.json("fsck")
    assert doc["ok"] and doc["problems"] == [] and doc["versions"] == 1 and doc["objects"] == 1
    assert "consistent" in repo("fsck").stdout


def test_repair_removes_strays_and_rebuilds_lineage(repo):
    repo.add("m", b"A")
    stray = repo.mvc_dir / "tmp" / "obj-left-by-a-crash"
    stray.write_bytes(b"half an object")
    assert repo.json("fsck")["notes"]  # young: it may belong to a running add
    age(stray)
    (repo.mvc_dir / "lineage.json").unlink()
    proc = repo("fsck", check=False)
    assert proc.returncode == 3 and "fsck --repair" in proc.stderr
    doc = repo.json("fsck", "--repair")
    assert doc["ok"] and {p["kind"] for p in doc["problems"]} == {"tmp-stray", "lineage"}
    assert not stray.exists() and (repo.mvc_dir / "lineage.json").is_file()
    assert repo.json("fsck")["problems"] == []
    assert repo.json("audit")[0]["action"] == "fsck"


def test_lost_object_is_not_repairable(repo):
    a = repo.add("m", b"A")
    os.unlink(repo.mvc_dir / "objects" / a["digest"][7:9] / a["digest"][9:])
    proc = repo("fsck", "--repair", "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 3 and doc["problems"][0]["kind"] == "object-missing"
    assert a["digest"] in proc.stderr


def test_deploy_folder_out_of_step_is_repaired(repo):
    repo.add("m", b"A")
    repo("promote", "m", "staging")
    d = repo.mvc_dir / "deploy" / "m" / "staging"
    (d / "routing.json").unlink()
    proc = repo("fsck", check=False)
    assert proc.returncode == 3 and "routing.json" in proc.stderr
    repo("fsck", "--repair")
    assert (d / "routing.json").is_file() and repo.json("fsck")["ok"]


def test_repairing_a_deploy_folder_is_a_change_with_its_role_and_its_event(repo):
    """fsck --repair of production's folder rewrites what production serves: it needs admin,
    like a promote there, and the audit log records it."""
    repo.add("m", b"A")
    repo("promote", "m", "production")
    repo("access", "grant", "tester@example.com", "admin")
    repo("access", "grant", "mo@example.com", "maintainer")
    d = repo.mvc_dir / "deploy" / "m" / "production"
    (d / "routing.json").unlink()
    denied = repo("fsck", "--repair", env={"MVC_USER": "mo@example.com"}, check=False)
    assert denied.returncode == 4, denied.stderr
    assert not (d / "routing.json").exists()
    repo("fsck", "--repair")
    assert (d / "routing.json").is_file() and repo.json("fsck")["ok"]
    last = repo.events()[-1]
    assert (last["action"], last["target"], last["user"]) == ("fsck", "m@production", "tester@example.com")


def test_a_deploy_repair_denied_on_one_channel_leaves_it_repairs_the_others_and_logs_only_those(repo):
    """Probe T: a maintainer's fsck --repair with production's and staging's folders broken
    committed an fsck event saying it had repaired the deploy folders, then stopped at
    production's denial: staging was left broken, every retry logged another false repair, and
    --json printed the error alone."""
    repo.add("m", b"A")
    repo("promote", "m", "production")
    repo("promote", "m", "staging")
    repo("access", "grant", "tester@example.com", "admin")
    repo("access", "grant", "mo@example.com", "maintainer")
    deploy = repo.mvc_dir / "deploy" / "m"
    for channel in ("production", "staging"):
        (deploy / channel / "current").unlink()
    before = len(repo.events())
    proc = repo("fsck", "--repair", "--json", env={"MVC_USER": "mo@example.com"}, check=False)
    assert proc.returncode == 4, proc.stderr
    report = json.loads(proc.stdout)
    assert report["error"]["type"] == "permission_denied" and "production" in report["error"]["message"]
    assert not report["ok"]
    left = [p for p in report["problems"] if not p["repaired"]]
    assert len(left) == 1 and "production" in left[0]["message"] and left[0]["fixable"]
    assert "admin" in left[0]["message"]
    assert (deploy / "staging" / "current").is_symlink() and not (deploy / "production" / "current").exists()
    new = [(e["action"], e["target"], e["user"]) for e in repo.events()[before:]]
    assert new == [("denied", "m@production", "mo@example.com"), ("fsck", "m@staging", "mo@example.com")]
    repo("fsck", "--repair")
    assert (deploy / "production" / "current").is_symlink() and repo.json("fsck")["ok"]

    # damage no repair fixes left beside a denied one: exit 3, not 4 (review)
    (deploy / "production" / "current").unlink()
    (repo.mvc_dir / "objects" / "zz").symlink_to(repo.cwd)
    proc = repo("fsck", "--repair", "--json", env={"MVC_USER": "mo@example.com"}, check=False)
    assert proc.returncode == 3 and json.loads(proc.stdout)["error"]["type"] == "integrity", proc.stdout


# -- packs (SPEC §5.1) ------------------------------------------------------------------------

def test_fsck_finds_a_corrupt_byte_inside_a_pack_and_names_the_version(repo, work):
    from packs_support import flip_byte, pack_of, packs, store, weights

    weights(work / "m.safetensors")
    digest = repo.json("add", "m.safetensors", "--name", "m")["digest"]
    name = pack_of(repo, digest)
    chunk = store(repo).recipe(digest).chunks[3]
    entry = next(e for e in packs(repo)[name] if e.digest == chunk.digest)
    flip_byte(repo.mvc_dir / "objects" / "pack" / f"{name}.pack", entry.offset + entry.size // 2)
    proc = repo("fsck", "--json", check=False)
    assert proc.returncode == 3
    messages = [p["message"] for p in json.loads(proc.stdout)["problems"]]
    found = next(m for m in messages if chunk.digest in m)
    assert f"in pack {name}" in found and "m@0.1.0" in found and "corrupt" in found
    assert "'mvc fsck --repair'" in found and "'mvc pull m@0.1.0'" in found
    assert not any(digest in m for m in messages)  # its recipe is sound: the chunk is what is named
    before = packs(repo)[name]
    # the corrupt copy dropped, so that a pull fetches it: missing until then, a problem left (exit 3)
    proc = repo("fsck", "--repair", "--json", check=False)
    assert proc.returncode == 3 and [(p["kind"], p["repaired"]) for p in json.loads(proc.stdout)["problems"]] == [
        ("object-corrupt", True), ("object-missing", False)]
    (left,) = packs(repo).values()
    assert [e.digest for e in left] == [e.digest for e in before if e.digest != chunk.digest]
    assert json.loads(repo("verify", "--json", check=False).stdout)["problems"] == [
        {"digest": chunk.digest, "problem": "missing", "used_by": ["m@0.1.0"]}]


def test_fsck_repair_drops_a_corrupt_chunk_nothing_needs(repo, work):
    from packs_support import flip_byte, pack_of, packs, store, weights

    repo.add("a", b"keep me")
    orphan, _ = store(repo).put_file(weights(work / "m.safetensors"))  # a killed add's
    name = pack_of(repo, orphan)
    before = packs(repo)[name]
    entry = before[2]
    flip_byte(repo.mvc_dir / "objects" / "pack" / f"{name}.pack", entry.offset)
    doc = repo.json("fsck", "--repair")
    assert doc["ok"] and [p["kind"] for p in doc["problems"]] == ["object-corrupt"]  # the chunk, not its recipe
    chunk = next(p["message"] for p in doc["problems"] if entry.digest in p["message"])
    assert "not referenced" in chunk and all(p["repaired"] for p in doc["problems"])
    left = packs(repo)
    assert name not in left and len(left) == 1  # the pack written again without it
    assert [e.digest for e in next(iter(left.values()))] == [e.digest for e in before if e != entry]
    assert repo.json("fsck")["problems"] == []


def test_fsck_names_an_unreadable_pack_index_and_the_versions_it_leaves_without_chunks(repo, work):
    from packs_support import pack_of, weights

    weights(work / "m.safetensors")
    digest = repo.json("add", "m.safetensors", "--name", "m")["digest"]
    name = pack_of(repo, digest)
    index = repo.mvc_dir / "objects" / "pack" / f"{name}.idx"
    index.chmod(0o644)
    index.write_bytes(index.read_bytes()[:-7])
    proc = repo("fsck", "--repair", "--json", check=False)
    assert proc.returncode == 3
    problems = json.loads(proc.stdout)["problems"]
    assert any(f"pack index {name} is unreadable" in p["message"] and not p["repaired"] for p in problems)
    assert any("missing" in p["message"] and "m@0.1.0" in p["message"] for p in problems)
    assert index.exists()  # never removed: the user restores it (or pulls the version again)
    doc = json.loads(repo("verify", "--json", check=False).stdout)
    assert {"digest": f"pack:{name}", "problem": "corrupt", "used_by": ["m@0.1.0"]} in doc["problems"]


def test_fsck_pack_without_index_is_a_stray_once_older_than_the_grace_period(repo, work):
    """An add renames its pack in just before its index: a young pack without one is noted and
    left alone; an old one (a crash between gc's two unlinks) is removed by --repair, as is an
    index without its pack."""
    from packs_support import pack_of, store, weights

    repo.add("a", b"keep me")
    orphan, _ = store(repo).put_file(weights(work / "m.safetensors"))
    name = pack_of(repo, orphan)
    folder = repo.mvc_dir / "objects" / "pack"
    store(repo).recipe_path(orphan).unlink()
    (folder / f"{name}.idx").unlink()
    doc = repo.json("fsck", "--repair")
    assert doc["ok"] and doc["problems"] == [] and any(f"{name}.pack" in n for n in doc["notes"])
    assert (folder / f"{name}.pack").exists()
    other, _ = store(repo).put_file(weights(work / "n.safetensors", seed=4))
    lone_index = pack_of(repo, other)
    store(repo).recipe_path(other).unlink()
    (folder / f"{lone_index}.pack").unlink()  # an index without its pack
    repo("config", "set", "gc.grace_seconds", "0")
    proc = repo("fsck", "--json", check=False)
    assert proc.returncode == 3
    assert sorted(p["kind"] for p in json.loads(proc.stdout)["problems"]) == ["object-stray", "object-stray"]
    assert repo.json("fsck", "--repair")["ok"]
    assert sorted(folder.iterdir()) == [] and repo.json("fsck")["problems"] == []


def test_a_stray_file_the_system_keeps_is_not_called_repaired(repo):
    """A stray file under objects/ that cannot be removed (immutable here; another user's,
    or a read-only file system elsewhere): --repair leaves it named with why, exit 3, instead of
    reporting it repaired while the next fsck finds it again."""
    import shutil
    import subprocess

    import pytest

    if shutil.which("chattr") is None or os.geteuid() != 0:
        pytest.skip("needs chattr and root to make a file immutable")
    repo.add("m", b"weights")
    stray = repo.mvc_dir / "objects" / "zz"
    stray.write_bytes(b"x")
    subprocess.run(["chattr", "+i", str(stray)], check=True)
    try:
        proc = repo("fsck", "--repair", "--json", check=False)
    finally:
        subprocess.run(["chattr", "-i", str(stray)], check=True)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    problem = json.loads(proc.stdout)["problems"][0]
    assert problem["kind"] == "object-stray" and problem["repaired"] is False
    assert "not repaired: Operation not permitted" in problem["message"] and stray.exists()


@pytest.mark.parametrize("where", ["index", "pack", "recipe", "fan-out"])
def test_a_folder_planted_under_objects_is_named_and_never_removed(repo, work, where):
    """Probe S: a folder at an index's, pack's or recipe's name (storage.md: 'nothing: fsck
    names it') was removed by fsck --repair with everything in it (shutil.rmtree)."""
    from packs_support import pack_of, store, weights

    weights(work / "m.safetensors")
    digest = repo.json("add", "m.safetensors", "--name", "m")["digest"]
    pack_dir = repo.mvc_dir / "objects" / "pack"
    folder = {"index": pack_dir / f"{pack_of(repo, digest)}.idx", "pack": pack_dir / f"{pack_of(repo, digest)}.pack",
              "recipe": store(repo).recipe_path(digest), "fan-out": repo.mvc_dir / "objects" / "zz"}[where]
    if folder.exists():
        folder.chmod(0o644)
        folder.unlink()
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    proc = repo("fsck", "--repair", "--json", check=False)
    assert proc.returncode == 3, proc.stdout
    assert (folder / "notes.txt").read_text() == "mine"
    named = [p for p in json.loads(proc.stdout)["problems"] if str(folder) in p["message"]]
    assert named and not any(p["repaired"] for p in named), proc.stdout


def test_a_repository_reached_through_a_symlink_is_one_repository(repo, tmp_path):
    """routing.json holds absolute paths: reached through a symlinked folder (MVC_DIR, or an API
    caller's path), the same deploy folder was spelled otherwise, and fsck called it out of
    step with the registry (probe I, M4). The folders above .mvc are now spelled as they
    really are, as git spells its top level."""
    repo.add("m", b"A")
    repo("promote", "m@0.1.0", "production")
    link = tmp_path / "link"
    link.symlink_to(repo.cwd)
    routing = repo.cwd / ".mvc" / "deploy" / "m" / "production" / "routing.json"
    before = routing.read_bytes()
    through = {"MVC_DIR": str(link / ".mvc")}
    assert repo.json("fsck", cwd=tmp_path, env=through)["ok"]
    assert repo.json("resolve", "m", cwd=tmp_path, env=through)["path"].startswith(str(repo.cwd))
    repo.add("m", b"B")
    repo("promote", "m@0.1.1", "production", cwd=tmp_path, env=through)
    assert str(link) not in routing.read_text() and routing.read_bytes() != before
    assert repo.json("fsck")["ok"]


def test_two_work_dirs_whose_mvc_is_one_folder_agree_on_its_deploy_folder(repo, tmp_path):
    """A work dir whose .mvc is a link to another's (B/.mvc -> A/.mvc) spells the same deploy
    folder under its own name, so each saw the other's routing.json as out of step (fsck exit
    3, and a repair by one broke the other). routing.json's paths are compared as the folders
    they name; either work dir may write them."""
    repo.add("m", b"A")
    repo("promote", "m@0.1.0", "production")
    other = tmp_path / "other"
    other.mkdir()
    (other / ".mvc").symlink_to(repo.cwd / ".mvc")
    assert repo.json("fsck", cwd=other)["ok"]
    repo.add("m", b"B")
    repo("promote", "m@0.1.1", "production", cwd=other)  # written under other's spelling
    assert str(other) in (repo.cwd / ".mvc" / "deploy" / "m" / "production" / "routing.json").read_text()
    assert repo.json("fsck")["ok"]
    changed = (repo.cwd / ".mvc" / "deploy" / "m" / "production" / "routing.json")
    changed.write_text(changed.read_text().replace('"0.1.1"', '"0.1.0"', 1))  # what it says differs: named
    assert not repo.json("fsck", check=False)["ok"]
