"""mvc stats [--remote] [--json] (SPEC §3): models, versions, objects, logical and stored bytes
and their ratio, from real adds whose bytes the store keeps once."""

from __future__ import annotations

import json

from support import model_dir, write

EMPTY = {"models": 0, "versions": 0, "objects": 0, "logical": 0, "stored": 0, "ratio": None, "by_model": {}}


def test_stats_counts_what_versions_hold_and_what_the_store_takes(repo, work):
    assert repo.json("stats") == EMPTY
    write(work / "a.bin", b"a" * 4096)
    repo("add", "a.bin", "--name", "m")
    repo("add", "a.bin", "--name", "n")  # the same bytes: one object for two versions
    repo("archive", "n")  # archived versions still hold their bytes
    write(work / "b.bin", b"b" * 1024)
    repo("add", "b.bin", "--name", "m")
    before = repo.state()
    # per model: its versions' objects once each (n's object is m's too)
    by_model = {"m": {"versions": 2, "objects": 2, "logical": 5120, "stored": 5120, "ratio": 1.0},
                "n": {"versions": 1, "objects": 1, "logical": 4096, "stored": 4096, "ratio": 1.0}}
    assert repo.json("stats") == {"models": 2, "versions": 3, "objects": 2, "logical": 9216,
                                  "stored": 5120, "ratio": 1.8, "by_model": by_model}
    # in a pipe: NAME<TAB>VALUE lines, sizes in binary units, then a "model" record a model
    assert repo("stats").stdout == ("models\t2\nversions\t3\nobjects\t2\nlogical\t9.0 KiB\n"
                                    "stored\t5.0 KiB\nratio\t1.80\n"
                                    "model\tm\t2\t2\t5.0 KiB\t5.0 KiB\t1.00\n"
                                    "model\tn\t1\t1\t4.0 KiB\t4.0 KiB\t1.00\n")
    assert repo.state() == before  # a read: nothing changes, no event

    # a directory: its files and its manifest are objects; its size is its files' bytes
    model_dir(work / "net")
    added = repo.json("add", "net", "--name", "net")
    files = repo.json("show", "net")["files"]
    stats = repo.json("stats")
    assert stats["versions"] == 4 and stats["logical"] == 9216 + added["size"]
    assert stats["objects"] == 2 + len({f["digest"] for f in files if "digest" in f}) + 1
    assert stats["stored"] > 5120 + added["size"]  # + the manifest
    # a reader may look
    repo("access", "grant", "tester@example.com", "admin")
    assert repo.json("stats", env={"MVC_USER": "eve"})["versions"] == 4


def test_stats_remote_counts_the_versions_whose_objects_are_there(repo, work, tmp_path):
    write(work / "a.bin", b"a" * 4096)
    repo("add", "a.bin", "--name", "m")
    repo("add", "a.bin", "--name", "n")
    write(work / "b.bin", b"b" * 1024)
    repo("add", "b.bin", "--name", "m")
    assert "no default remote" in repo.fail("stats", "--remote").stderr
    assert "remote" not in repo.json("stats")  # the key comes with --remote only
    repo("remote", "add", "origin", str(tmp_path / "remote"))
    proc = repo("stats", "--remote", "--json")  # nothing pushed yet: empty, and said (probe H)
    assert json.loads(proc.stdout)["remote"] == {**EMPTY, "name": "origin", "url": str(tmp_path / "remote")}
    assert "its folder" in proc.stderr and "does not exist" in proc.stderr
    repo("push", "m@0.1.0")  # its object is n@0.1.0's too; m@0.1.1's stays here
    doc = repo.json("stats", "--remote")
    one = {"versions": 1, "objects": 1, "logical": 4096, "stored": 4096, "ratio": 1.0}
    assert doc["remote"] == {"models": 2, "versions": 2, "objects": 1, "logical": 8192, "stored": 4096,
                             "ratio": 2.0, "by_model": {"m": one, "n": one},
                             "name": "origin", "url": str(tmp_path / "remote")}
    assert (doc["versions"], doc["objects"], doc["logical"], doc["stored"]) == (3, 2, 9216, 5120)
    assert repo("stats", "--remote").stdout.splitlines() == [
        "count\tlocal\tremote origin", "models\t2\t2", "versions\t3\t2", "objects\t2\t1",
        "logical\t9.0 KiB\t8.0 KiB", "stored\t5.0 KiB\t4.0 KiB", "ratio\t1.80\t2.00",
        "model\tm\t2\t2\t5.0 KiB\t5.0 KiB\t1.00\t1\t1\t4.0 KiB\t4.0 KiB\t1.00",
        "model\tn\t1\t1\t4.0 KiB\t4.0 KiB\t1.00\t1\t1\t4.0 KiB\t4.0 KiB\t1.00"]


def test_stats_counts_packs_and_their_indexes(repo, work, tmp_path):
    """A chunked file's new chunks are in a pack (SPEC §5.1): ``stored`` counts the pack and
    index files whole, ``objects`` each chunk once, and a model its chunks' bytes."""
    from packs_support import TENSORS, packs, store, stored_files, weights

    weights(work / "m.safetensors")
    a = repo.json("add", "m.safetensors", "--name", "m")
    weights(work / "m.safetensors", changed=(4, 5))
    b = repo.json("add", "m.safetensors", "--name", "m")
    chunks = {e.digest: e.size for entries in packs(repo).values() for e in entries}
    assert len(chunks) == 1 + TENSORS + 2
    recipes = sum(store(repo).size(d) for d in (a["digest"], b["digest"]))
    doc = repo.json("stats")
    assert doc["stored"] == stored_files(repo) > sum(chunks.values()) + recipes  # + the indexes
    assert doc["objects"] == 2 + len(chunks) and doc["logical"] == a["size"] + b["size"]
    assert doc["by_model"]["m"] == {"versions": 2, "objects": 2 + len(chunks), "logical": doc["logical"],
                                    "stored": sum(chunks.values()) + recipes,
                                    "ratio": round(doc["logical"] / (sum(chunks.values()) + recipes), 3)}
    assert doc["ratio"] > 1.45  # 12 MiB held in 8: the fine-tune costs the two tensors it changed
    # a remote keeps chunks in packs too: the same figures, from its listing and its indexes
    repo("remote", "add", "origin", str(tmp_path / "remote"))
    repo("push", "m@0.1.0")
    there = repo.json("stats", "--remote")["remote"]
    files = sum(p.stat().st_size for p in (tmp_path / "remote" / "objects").rglob("*") if p.is_file())
    assert (there["versions"], there["objects"], there["stored"]) == (1, 1 + 1 + TENSORS, files)
    assert there["by_model"]["m"]["stored"] == recipes - store(repo).size(b["digest"]) + sum(
        size for d, size in chunks.items() if d in {c.digest for c in store(repo).recipe(a["digest"]).chunks})


def test_a_remote_folder_gone_is_said_by_stats_and_pull(repo, work, tmp_path):
    """A directory remote deleted (or its URL mistyped): stats --remote counted it as empty
    without a word, and pull said each object was missing there as if someone forgot to push."""
    import shutil

    from support import clone_without_objects

    write(work / "a.bin", b"a" * 4096)
    repo("add", "a.bin", "--name", "m")
    repo("remote", "add", "origin", str(tmp_path / "remote"))
    repo("push")
    assert repo("stats", "--remote").stderr == ""
    shutil.rmtree(tmp_path / "remote")
    proc = repo("stats", "--remote")
    assert "remote 'origin': its folder" in proc.stderr and "mvc remote list" in proc.stderr
    clone = clone_without_objects(repo, tmp_path / "clone")
    err = clone.fail("pull", "m", code=3).stderr
    assert f"its folder {tmp_path / 'remote'} does not exist" in err



def test_stats_says_when_versions_need_objects_that_are_not_here(repo, work):
    """A directory whose manifest is gone hides its files: the counts fell silently (exit 0)."""
    model_dir(work / "net")
    repo("add", "net", "--name", "net")
    write(work / "a.bin", b"a" * 4096)
    repo("add", "a.bin", "--name", "m")
    whole = repo.json("stats")
    assert repo("stats").stderr == ""
    manifest = repo.mvc_dir / "objects" / repo.json("show", "net")["digest"][7:9]
    manifest = manifest / repo.json("show", "net")["digest"][9:]
    manifest.unlink()
    proc = repo("stats", "--json")
    assert proc.returncode == 0 and "1 version(s) need objects that are not in the local store" in proc.stderr
    assert "(net@0.1.0)" in proc.stderr and "'mvc pull' fetches them" in proc.stderr
    counted = json.loads(proc.stdout)
    assert counted["by_model"]["net"]["objects"] < whole["by_model"]["net"]["objects"]
    assert counted["by_model"]["m"] == whole["by_model"]["m"]
    # data stored with the version, gone too: still one version, named once
    write(work / "d:1.csv", b"rows\n")
    repo("add", "a.bin", "--name", "m", "--data", "d:1.csv", "--store-data", "--force")
    data = repo.json("show", "m@0.1.1")["lineage"]["data"][0]["digest"]
    (repo.mvc_dir / "objects" / data[7:9] / data[9:]).unlink()
    assert "2 version(s) need objects" in repo("stats").stderr and "(m@0.1.1, net@0.1.0)" in repo("stats").stderr
