"""The README demo, end to end: init, two versions with metrics, ls, show, log, checkout."""

from __future__ import annotations

import os

from support import write


def test_readme_demo(mvc, work):
    first = os.urandom(64 * 1024)
    write(work / "model.bin", first)
    write(work / "train.csv", "x,y\n1,2\n3,4\n")
    write(work / "train.py", "print('training')\n")

    assert mvc("init").returncode == 0
    v1 = mvc.json("add", "model.bin", "--name", "resnet", "--metric", "accuracy=0.91",
                  "--metric", "latency_ms=12", "--param", "lr=0.01", "--data", "train.csv",
                  "--code", "train.py", "-m", "baseline")
    write(work / "model.bin", first + os.urandom(1024))  # retrain
    v2 = mvc.json("add", "model.bin", "--name", "resnet", "--metric", "accuracy=0.94",
                  "--metric", "latency_ms=11", "--param", "lr=0.005", "--data", "train.csv",
                  "--code", "train.py", "--tag", "best", "-m", "lower learning rate")
    assert (v1["ref"], v2["ref"]) == ("resnet@0.1.0", "resnet@0.1.1")

    assert mvc.json("ls") == [{"model": "resnet", "versions": 2, "latest": "0.1.1",
                               "channels": {"staging": None, "production": None}}]
    assert "resnet" in mvc("ls").stdout
    versions = mvc.json("ls", "resnet")
    assert [(v["version"], v["metrics"]["accuracy"], v["tags"]) for v in versions] == [
        ("0.1.1", 0.94, ["best"]), ("0.1.0", 0.91, [])]

    best = mvc.json("show", "resnet@best")
    assert best["digest"] == v2["digest"] and best["params"] == {"lr": 0.005}
    assert best["message"] == "lower learning rate"
    assert best["lineage"]["data"][0]["path"] == str(work / "train.csv")
    assert best["lineage"]["code"][0]["path"] == str(work / "train.py")
    assert "accuracy" in mvc("show", "resnet@best").stdout

    log = mvc.json("log", "resnet")
    assert [e["message"] for e in log] == ["lower learning rate", "baseline"]
    assert "baseline" in mvc("log", "resnet").stdout

    out = mvc.json("checkout", "resnet@0.1.0", "-o", "baseline.bin")
    assert out["written"] is True
    assert (work / "baseline.bin").read_bytes() == first
