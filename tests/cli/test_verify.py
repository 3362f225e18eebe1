"""mvc verify [REF...] (SPEC §3 Integrity)."""

from __future__ import annotations

import json
import os

from support import model_dir


def obj(repo, digest):
    return repo.mvc_dir / "objects" / digest[7:9] / digest[9:]


def test_verify_all_and_by_ref(repo, work):
    a = repo.add("a", b"A" * 1000)
    model_dir(work / "net")
    repo("add", "net", "--name", "net")
    out = repo.json("verify")
    assert out["ok"] and out["checked"] == 1 + 4 and out["problems"] == []
    assert repo.json("verify", "net")["checked"] == 4  # manifest + 3 files (the link is no object)
    assert repo.json("verify", "a")["checked"] == 1 and "all intact" in repo("verify").stdout
    o = obj(repo, a["digest"])
    o.chmod(0o644)
    o.write_bytes(b"B" * 1000)
    proc = repo("verify", check=False)
    assert proc.returncode == 3
    assert a["digest"] in proc.stderr and "corrupt" in proc.stderr and "a@0.1.0" in proc.stderr
    assert repo("verify", "net", check=False).returncode == 0


def test_missing_file_of_a_directory_is_named(repo, work):
    model_dir(work / "net")
    repo("add", "net", "--name", "net")
    files = repo.json("show", "net")["files"]
    weights = next(f for f in files if f["path"] == "weights.bin")
    os.unlink(obj(repo, weights["digest"]))
    proc = repo("verify", "net", "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 3 and not doc["ok"]
    assert doc["problems"] == [{"digest": weights["digest"], "problem": "missing",
                                "used_by": ["net@0.1.0:weights.bin"]}]
    assert doc["error"]["type"] == "integrity" and "net@0.1.0:weights.bin" in proc.stderr


def test_unknown_ref(repo):
    repo.add("a", b"A")
    repo.fail("verify", "nope")


def test_verify_packed_versions_and_a_fine_tune_that_shares_their_chunks(repo, work):
    from packs_support import TENSORS, flip_byte, packs, store, weights

    weights(work / "m.safetensors")
    repo("add", "m.safetensors", "--name", "m")
    assert repo.json("verify") == {"ok": True, "checked": 1 + 1 + TENSORS, "bytes": repo.json("verify")["bytes"],
                                   "problems": []}
    weights(work / "m.safetensors", changed=(2,))
    tuned = repo.json("add", "m.safetensors", "--name", "m")
    assert len(packs(repo)) == 2  # the fine-tune's pack holds the one tensor it changed
    out = repo.json("verify")
    assert out["ok"] and out["checked"] == 2 + 1 + TENSORS + 1 and out["bytes"] >= 7 << 20
    assert repo.json("verify", "m@0.1.1")["checked"] == 1 + 1 + TENSORS
    changed = store(repo).recipe(tuned["digest"]).chunks[3]
    (name, (entry,)), = ((n, es) for n, es in packs(repo).items() if len(es) == 1)
    assert entry.digest == changed.digest
    flip_byte(repo.mvc_dir / "objects" / "pack" / f"{name}.pack", 100)
    assert repo.json("verify", "m@0.1.0")["ok"]
    for args in (["m@0.1.1"], []):
        proc = repo("verify", *args, "--json", check=False)
        doc = json.loads(proc.stdout)
        assert proc.returncode == 3
        assert {"digest": changed.digest, "problem": "corrupt", "used_by": ["m@0.1.1"]} in doc["problems"]
        assert tuned["digest"] not in {p["digest"] for p in doc["problems"]}  # its recipe is sound
