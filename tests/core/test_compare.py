"""The comparison rules of SPEC §3: metric direction, recommendation edge cases (zero,
negative, missing), importance, similarity; and Repo.diff on real stored artifacts."""

from __future__ import annotations

import numpy as np
import pytest

from mvc.core.compare import (
    INSUFFICIENT, RECOMMEND_A, RECOMMEND_B, SIMILAR, Settings, Side, characteristics, compare,
    compare_metrics, importance, jaccard, performance, settings_from,
)
from mvc.core.errors import UserError

from apirepo import api_repo
from tensorfiles import write_npz, write_safetensors

S = Settings()


def rec(a, b, s=S, metric="accuracy"):
    return performance({metric: a} if a is not None else {}, {metric: b} if b is not None else {}, s)


def test_lower_is_better_defaults():
    for name in ("loss", "val_loss", "error_rate", "latency_p99", "step_ms", "mae", "mse", "rmse",
                 "perplexity", "train_time", "model_size", "Val_Loss"):
        assert S.lower_better(name), name
    for name in ("accuracy", "f1", "auc", "msec", "maes"):
        assert not S.lower_better(name), name


def test_metric_direction_and_only_one_side():
    m = compare_metrics({"accuracy": 0.9, "loss": 0.5, "old": 1}, {"accuracy": 0.95, "loss": 0.6, "new": 2}, S)
    assert m["metrics"]["accuracy"] == {"a": 0.9, "b": 0.95, "diff": 0.05, "improved": True}
    assert m["metrics"]["loss"] == {"a": 0.5, "b": 0.6, "diff": 0.1, "improved": False}
    assert m["metrics_only_a"] == {"old": 1} and m["metrics_only_b"] == {"new": 2}
    same = compare_metrics({"loss": 1.0}, {"loss": 1.0}, S)["metrics"]["loss"]
    assert same["diff"] == 0 and same["improved"] is False


@pytest.mark.parametrize("a, b, expected", [
    (0.90, 0.95, RECOMMEND_B),
    (0.95, 0.90, RECOMMEND_A),
    (0.90, 0.92, SIMILAR),          # 0.02 < 5 % of 0.90
    (1.00, 1.05, SIMILAR),          # exactly the threshold is not "more than"
    (0.0, 0.0, SIMILAR),
    (0.0, 0.01, RECOMMEND_B),       # any gain over zero
    (0.0, -0.01, RECOMMEND_A),
    (-1.0, -0.5, RECOMMEND_B),      # negative A: higher is still better
    (-1.0, -1.02, SIMILAR),         # within 5 % of |A|
    (-1.0, -2.0, RECOMMEND_A),
    (None, 0.9, INSUFFICIENT),
    (0.9, None, INSUFFICIENT),
])
def test_recommendation_higher_is_better(a, b, expected):
    assert rec(a, b)[1] == expected


@pytest.mark.parametrize("a, b, expected, delta", [
    (0.5, 0.4, RECOMMEND_B, 0.1),
    (0.4, 0.5, RECOMMEND_A, -0.1),
    (0.0, 0.0, SIMILAR, 0),
    (0.0, 0.1, RECOMMEND_A, -0.1),
    (-2.0, -3.0, RECOMMEND_B, 1.0),   # a negative loss going further down is better
    (-2.0, -1.0, RECOMMEND_A, -1.0),
])
def test_recommendation_lower_is_better(a, b, expected, delta):
    s = Settings(primary_metric="val_loss")
    got_delta, got = rec(a, b, s, "val_loss")
    assert got == expected and got_delta == pytest.approx(delta)


def test_performance_delta_sign_and_missing():
    assert rec(0.9, 0.95)[0] == 0.05
    assert rec(None, 0.95)[0] is None


def test_importance():
    a = {"accuracy": 0.90, "latency_ms": 10}
    b = {"accuracy": 0.95, "latency_ms": 12}
    assert importance(a, b, S) == pytest.approx(0.7 * 0.05 - 0.3 * (2 / 1000))
    assert importance({"accuracy": 0.9}, {"accuracy": 0.95}, S) == pytest.approx(0.035)  # latency missing
    assert importance({"latency_ms": 10}, {"latency_ms": 5}, S) == pytest.approx(0.0015)
    assert importance({"f1": 1}, {"f1": 2}, S) is None
    custom = Settings(weights={"accuracy": 1.0, "latency": 0.0}, accuracy_metric="f1")
    assert importance({"f1": 0.5}, {"f1": 0.75}, custom) == 0.25


def test_jaccard_and_characteristics():
    assert jaccard(set(), set()) == 1.0
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    side = Side("m@1.0.0", {}, {"lr": 0.1, "layers": [1, 2]}, {"m.bin": "sha256:aa"}, ("sha256:d",), ("sha256:c",))
    assert characteristics(side, {}) == {
        "param:lr=0.1", "param:layers=[1,2]", "file:m.bin=sha256:aa", "data:sha256:d", "code:sha256:c",
    }


def test_settings_from_config(tmp_path):
    # the defaults and checks live in the config schema; Config.value applies them
    from mvc.core.config import Config

    def settings(text):
        (tmp_path / "c.toml").write_text(text)
        return settings_from(Config(tmp_path / "c.toml").value)

    s = settings('[compare]\nprimary_metric = "f1"\nlower_is_better = ["*wer*"]\nthreshold = 0.1\n'
                 "weights = {accuracy = 1}\n")
    assert s.primary_metric == "f1" and s.lower_better("wer") and not s.lower_better("loss")
    assert s.threshold == 0.1 and s.weights == {"accuracy": 1.0, "latency": 0.3}
    assert settings("") == S
    with pytest.raises(UserError, match="compare.threshold"):
        settings('compare.threshold = "much"\n')
    with pytest.raises(UserError, match="lower_is_better"):
        settings("compare.lower_is_better = 3\n")


def test_compare_without_tensor_files_reads_nothing():
    def read(*_):
        raise AssertionError("nothing to read")

    a = Side("m@0.1.0", {"accuracy": 0.9}, {}, {"m.pt": "sha256:aa"})
    b = Side("m@0.1.1", {"accuracy": 0.9}, {}, {"m.pt": "sha256:bb"})
    d = compare(a, b, S, read)
    assert d["tensors"] == {} and d["artifacts"]["changed"] == ["m.pt"]
    assert d["similarity"] == 0.0 and d["recommendation"] == SIMILAR


# -- Repo.diff on real files -------------------------------------------------------------------

@pytest.fixture
def repo(tmp_path, monkeypatch):
    r = api_repo(tmp_path, monkeypatch)
    yield r
    r.close()


def test_repo_diff_directory_with_tensors(repo, tmp_path):
    d = tmp_path / "model"
    write_safetensors(d / "weights.safetensors", {"w": np.zeros((2, 2), dtype="<f4"), "b": np.zeros(2, dtype="<f4"),
                                                  "gone": np.zeros(1, dtype="<f4")})
    write_npz(d / "extra.npz", emb=np.arange(4, dtype="<f8"))
    (d / "optimizer.pt").write_bytes(b"pickle bytes, compared by digest only")
    (d / "config.json").write_text("{}")
    repo.add(d, name="net", params={"lr": 0.1, "epochs": 3}, metrics={"accuracy": 0.9, "loss": 0.4})

    write_safetensors(d / "weights.safetensors", {"w": np.ones((2, 2), dtype="<f4"), "b": np.zeros((1, 2), dtype="<f4"),
                                                  "new": np.zeros(1, dtype="<f4")})
    write_npz(d / "extra.npz", emb=np.arange(4, dtype="<f8"))
    (d / "optimizer.pt").write_bytes(b"other pickle bytes")
    (d / "config.json").unlink()
    (d / "README").write_text("notes")
    repo.add(d, name="net", params={"lr": 0.01, "seed": 1}, metrics={"accuracy": 0.96, "loss": 0.5})

    out = repo.diff("net@0.1.0", "net@0.1.1").to_dict()
    assert out["a"] == "net@0.1.0" and out["b"] == "net@0.1.1"
    assert out["metrics"]["accuracy"]["improved"] is True and out["metrics"]["loss"]["improved"] is False
    assert out["params"] == {"added": {"seed": 1}, "removed": {"epochs": 3}, "changed": {"lr": {"a": 0.1, "b": 0.01}}}
    assert out["artifacts"] == {"added": ["README"], "removed": ["config.json"],
                                "changed": ["optimizer.pt", "weights.safetensors"], "unchanged": 1}
    w = out["tensors"]["weights.safetensors"]
    assert (w["format"], w["added"], w["removed"], w["changed"], w["unchanged"]) == (
        "safetensors", ["new"], ["gone"], ["w"], 0)
    assert w["reshaped"] == {"b": {"a": {"dtype": "F32", "shape": [2]}, "b": {"dtype": "F32", "shape": [1, 2]}}}
    assert out["tensors"]["extra.npz"]["unchanged"] == 1
    assert "optimizer.pt" not in out["tensors"]
    assert out["recommendation"] == RECOMMEND_B and out["performance_delta"] == pytest.approx(0.06)
    assert 0 < out["similarity"] < 1 and out["unreadable"] == []


def test_repo_diff_renamed_single_file_and_unreadable(repo, tmp_path):
    write_safetensors(tmp_path / "v1.safetensors", {"w": np.zeros(2, dtype="<f4")})
    repo.add(tmp_path / "v1.safetensors", name="m", metrics={"accuracy": 0.5})
    bad = tmp_path / "v2.safetensors"
    bad.write_bytes(write_safetensors(tmp_path / "tmp.safetensors", {"w": np.ones(64, dtype="<f4")}).read_bytes()[:40])
    repo.add(bad, name="m")
    out = repo.diff("m@0.1.0", "m@0.1.1").to_dict()
    assert out["artifacts"]["added"] == ["v2.safetensors"] and out["artifacts"]["removed"] == ["v1.safetensors"]
    entry = out["tensors"]["v1.safetensors -> v2.safetensors"]
    assert set(entry["errors"]) == {"b"} and "truncated" in entry["errors"]["b"]
    assert out["unreadable"] == [{"side": "b", "path": "v2.safetensors", "error": entry["errors"]["b"]}]
    assert out["recommendation"] == INSUFFICIENT and out["importance"] is None


def test_repo_diff_identical_versions(repo, tmp_path):
    (tmp_path / "m.bin").write_bytes(b"x")
    repo.add(tmp_path / "m.bin", name="m", params={"lr": 1})
    out = repo.diff("m", "m@0.1.0").to_dict()
    assert out["similarity"] == 1.0 and out["artifacts"]["unchanged"] == 1


def test_a_difference_beyond_a_float_is_null_not_infinity():
    """Issue 10 item 12: ``mvc diff`` of ±1.7e308 printed ``"diff": Infinity``."""
    s = Settings(primary_metric="accuracy")
    out = compare_metrics({"accuracy": -1.7e308}, {"accuracy": 1.7e308}, s)
    assert out["metrics"]["accuracy"] == {"a": -1.7e308, "b": 1.7e308, "diff": None, "improved": True}
    assert performance({"accuracy": -1.7e308}, {"accuracy": 1.7e308}, s) == (None, "RECOMMEND_B")
    assert importance({"accuracy": -1.7e308}, {"accuracy": 1.7e308}, s) is None


def test_tensors_of_a_chunked_file_are_read_in_place_from_its_packs(tmp_path, monkeypatch):
    """A fine-tune's chunks sit in two packs, at offsets other than 0 (SPEC §5.1): reading its
    tensors from the store gives what reading the file gives, one pack file open at a time."""
    import os

    from mvc.core.compare import store_chunks, store_reader
    from mvc.core.tensors import read_tensors

    from packs_support import weights

    repo = api_repo(tmp_path, monkeypatch)
    weights(tmp_path / "m.safetensors")
    repo.add(tmp_path / "m.safetensors", "m")
    weights(tmp_path / "m.safetensors", changed=(2, 4))
    tuned = repo.add(tmp_path / "m.safetensors", "m")
    assert len(repo.store.packs.all()) == 2
    opened = []
    real = repo.store.open_chunk

    def counting(digest):
        found = real(digest)
        opened.append(found[0])
        assert len({fd for fd in opened if _is_open(fd)}) == 1
        return found

    monkeypatch.setattr(repo.store, "open_chunk", counting)
    assert store_reader(repo.store)(tuned.digest, "safetensors") == read_tensors(tmp_path / "m.safetensors", "safetensors")
    assert not any(_is_open(fd) for fd in opened)
    chunks = store_chunks(repo.store)(tuned.digest)
    assert sum(size for _, size in chunks) == os.path.getsize(tmp_path / "m.safetensors") and len(chunks) == 7


def _is_open(fd: int) -> bool:
    import os

    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
