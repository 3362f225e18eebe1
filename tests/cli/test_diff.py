"""mvc diff as a user runs it: JSON contract, human output, bad refs, unreadable files."""

from __future__ import annotations

import json

import numpy as np

from support import write
from tensorfiles import write_safetensors


def _two_versions(repo, work):
    write_safetensors(work / "m.safetensors", {"w": np.zeros(4, dtype="<f4")})
    repo("add", "m.safetensors", "--name", "net", "--metric", "accuracy=0.90", "--metric", "loss=0.3",
         "--param", "lr=0.1")
    write_safetensors(work / "m.safetensors", {"w": np.ones(4, dtype="<f4"), "extra": np.ones(1, dtype="<f4")})
    repo("add", "m.safetensors", "--name", "net", "--metric", "accuracy=0.97", "--metric", "loss=0.35",
         "--param", "lr=0.01")


def test_diff_json_is_the_spec_shape(repo, work):
    _two_versions(repo, work)
    out = repo.json("diff", "net@0.1.0", "net@0.1.1")
    assert {"metrics", "metrics_only_a", "metrics_only_b", "params", "artifacts", "tensors", "similarity",
            "performance_delta", "importance", "recommendation"} <= out.keys()
    assert out["metrics"]["accuracy"] == {"a": 0.9, "b": 0.97, "diff": 0.07, "improved": True}
    assert out["metrics"]["loss"]["improved"] is False
    assert out["params"]["changed"] == {"lr": {"a": 0.1, "b": 0.01}}
    assert out["artifacts"] == {"added": [], "removed": [], "changed": ["m.safetensors"], "unchanged": 0}
    t = out["tensors"]["m.safetensors"]
    assert t["added"] == ["extra"] and t["changed"] == ["w"]
    assert out["recommendation"] == "RECOMMEND_B"


def test_diff_human_output(repo, work):
    _two_versions(repo, work)
    proc = repo("diff", "net@0.1.0", "net@0.1.1")
    lines = proc.stdout.splitlines()
    assert "recommendation\tRECOMMEND_B" in lines  # a NAME<TAB>VALUE line
    assert "better" in proc.stdout and "worse" in proc.stdout
    assert "\x1b[" not in proc.stdout  # no colour in a pipe
    assert proc.stderr == ""


def test_primary_metric_from_config(repo, work):
    _two_versions(repo, work)
    repo("config", "set", "compare.primary_metric", "loss")
    out = repo.json("diff", "net@0.1.0", "net@0.1.1")
    assert out["recommendation"] == "RECOMMEND_A" and out["performance_delta"] == -0.05


def test_unknown_ref_is_exit_1(repo, work):
    _two_versions(repo, work)
    proc = repo("diff", "net@0.1.0", "net@9.9.9", check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("mvc: error: unknown version net@9.9.9")
    proc = repo("diff", "net@0.1.0", "nope", "--json", check=False)
    assert proc.returncode == 1 and json.loads(proc.stdout)["error"]["type"] == "not_found"
    assert repo("diff", "net@0.1.0", check=False).returncode == 2


def test_truncated_safetensors_is_reported_not_a_crash(repo, work):
    write_safetensors(work / "m.safetensors", {"w": np.zeros(64, dtype="<f4")})
    repo("add", "m.safetensors", "--name", "net")
    write(work / "m.safetensors", (work / "m.safetensors").read_bytes()[:100])
    repo("add", "m.safetensors", "--name", "net")
    out = repo.json("diff", "net@0.1.0", "net@0.1.1")
    assert [u["side"] for u in out["unreadable"]] == ["b"]
    assert "truncated" in out["tensors"]["m.safetensors"]["errors"]["b"]
    human = repo("diff", "net@0.1.0", "net@0.1.1")
    assert "unreadable" in human.stdout and human.returncode == 0
    assert "unchanged tensors" not in human.stdout  # B has none to compare: not "0 unchanged"
    header = b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 1' + b"0" * 5000 + b"]}}"
    write(work / "m.safetensors", len(header).to_bytes(8, "little") + header + b"\0" * 4)
    repo("add", "m.safetensors", "--name", "net")  # a number of 5,000 digits: Python's advice, before
    said = repo.json("diff", "net@0.1.0", "net@0.1.2")["tensors"]["m.safetensors"]["errors"]["b"]
    assert said == "the header holds a whole number of 5001 digits, more than a 64-bit offset or dimension has"


def test_a_version_not_pulled_yet_is_listed_unreadable_and_the_rest_compared(repo, work, tmp_path):
    """A teammate's clone that has the registry but not the objects: metrics and params are
    compared, each tensor file is listed as unreadable with how to get it, exit 0 (it was
    exit 3 'missing from the store', and nothing else was shown). ``pull`` makes it whole."""
    from support import clone_without_objects

    _two_versions(repo, work)
    repo("remote", "add", "origin", str(tmp_path / "remote"))
    repo("push")
    clone = clone_without_objects(repo, tmp_path / "clone")
    out = clone.json("diff", "net@0.1.0", "net@0.1.1")
    assert out["metrics"]["accuracy"]["improved"] is True and out["recommendation"] == "RECOMMEND_B"
    assert [(u["side"], u["path"]) for u in out["unreadable"]] == [("a", "m.safetensors"), ("b", "m.safetensors")]
    assert all("'mvc pull'" in u["error"] for u in out["unreadable"])
    assert out["storage"] is None
    human = clone("diff", "net@0.1.0", "net@0.1.1")
    assert "unreadable" in human.stdout and "'mvc pull'" in human.stdout
    clone("pull", "net@0.1.0")
    out = clone.json("diff", "net@0.1.0", "net@0.1.1")
    assert [u["side"] for u in out["unreadable"]] == ["b"]
    clone("pull", "net@0.1.1")
    out = clone.json("diff", "net@0.1.0", "net@0.1.1")
    assert out["unreadable"] == [] and out["tensors"]["m.safetensors"]["changed"] == ["w"]


def test_a_model_file_renamed_between_versions_is_as_similar_as_its_contents(repo, work):
    """The tensors of a renamed single-file model are compared with each other (the same model
    file); its similarity counted them apart, so identical bytes scored 0.0."""
    tensors = {"emb": ("U8", [16], b"\1" * 16), "head": ("U8", [16], b"\2" * 16)}
    write_safetensors(work / "a.safetensors", tensors)
    repo("add", "a.safetensors", "--name", "n", "--param", "lr=0.1")
    write_safetensors(work / "model.safetensors", tensors)
    repo("add", "model.safetensors", "--name", "n", "--param", "lr=0.1", "--force")  # same bytes: --force
    same = repo.json("diff", "n@0.1.0", "n@0.1.1")
    assert same["tensors"]["a.safetensors -> model.safetensors"]["unchanged"] == 2
    assert same["similarity"] == 1.0 and same["artifacts"]["added"] == ["model.safetensors"]
    write_safetensors(work / "final.safetensors", {**tensors, "head": ("U8", [16], b"\3" * 16)})
    repo("add", "final.safetensors", "--name", "n", "--param", "lr=0.1")
    # param, emb shared; file and head differ on each side: 2 of 6
    assert repo.json("diff", "n@0.1.1", "n@0.1.2")["similarity"] == 2 / 6
