"""mvc diff REF_1 REF_2 REF_3 …: three or more versions side by side (SPEC §3), Repo.diff(*refs)."""

from __future__ import annotations

import re

import pytest

from support import Mvc, module_repo, on_terminal


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> Mvc:
    repo = module_repo(tmp_path_factory)
    repo.add("m", b"1", "--metric", "accuracy=0.80", "--metric", "loss=0.5", "--param", "lr=0.1", "--param", "opt=adam")
    repo.add("m", b"2", "--metric", "accuracy=0.90", "--metric", "loss=0.7", "--param", "lr=0.1", "--param", "opt=sgd")
    repo.add("m", b"3", "--metric", "accuracy=0.85", "--param", "lr=0.1", "--param", "extra=1")
    repo("promote", "m@0.1.1", "production")
    return repo


def test_json_is_the_documented_shape(three):
    out = three.json("diff", "m@0.1.0", "m@production", "m@0.1.2")
    assert out == {
        "versions": ["m@0.1.0", "m@0.1.1", "m@0.1.2"],
        "metrics": {"accuracy": {"m@0.1.0": 0.8, "m@0.1.1": 0.9, "m@0.1.2": 0.85},
                    "loss": {"m@0.1.0": 0.5, "m@0.1.1": 0.7}},
        "best": {"accuracy": "m@0.1.1", "loss": "m@0.1.0"},
        "params": {"extra": {"m@0.1.2": 1}, "opt": {"m@0.1.0": "adam", "m@0.1.1": "sgd"}},
        "recommendation": {"verdict": "RECOMMEND", "ref": "m@0.1.1"},
        "primary_metric": "accuracy",
    }


def test_verdicts_follow_the_threshold_and_the_primary_metric(three):
    # the baseline is the best: nothing beats it
    assert three.json("diff", "m@0.1.1", "m@0.1.0", "m@0.1.2")["recommendation"] == {
        "verdict": "SIMILAR_PERFORMANCE", "ref": "m@0.1.1"}
    three("config", "set", "compare.threshold", "0.2")
    three("config", "set", "compare.primary_metric", "loss")
    try:
        # the baseline has loss and is lowest: similar; a baseline without it: insufficient data
        assert three.json("diff", "m@0.1.0", "m@0.1.1", "m@0.1.2")["recommendation"]["verdict"] \
            == "SIMILAR_PERFORMANCE"
        assert three.json("diff", "m@0.1.2", "m@0.1.1", "m@0.1.0")["recommendation"] == {
            "verdict": "INSUFFICIENT_DATA", "ref": None}
        three("config", "unset", "compare.primary_metric")
        assert three.json("diff", "m@0.1.0", "m@0.1.1", "m@0.1.2")["recommendation"]["verdict"] \
            == "SIMILAR_PERFORMANCE"  # 0.1 is not more than 20% of 0.8
    finally:
        three("config", "unset", "compare.threshold")
        three("config", "unset", "compare.primary_metric", check=False)


def test_pipe_output_a_column_a_version_and_the_best(three):
    proc = three("diff", "m@0.1.0", "m@0.1.1", "m@0.1.2")
    assert proc.stderr == ""
    assert proc.stdout.splitlines() == [
        "metric\tm@0.1.0\tm@0.1.1\tm@0.1.2\tbest",
        "accuracy\t0.8\t0.9\t0.85\tm@0.1.1",
        "loss\t0.5\t0.7\t-\tm@0.1.0",
        "param\tm@0.1.0\tm@0.1.1\tm@0.1.2",
        "extra\t-\t-\t1",
        "opt\tadam\tsgd\t-",
        "baseline\tm@0.1.0",
        "primary metric\taccuracy",
        "recommendation\tRECOMMEND",
        "recommended\tm@0.1.1",
    ]


def test_terminal_marks_the_best(three):
    shown = on_terminal(["diff", "m@0.1.0", "m@0.1.1", "m@0.1.2"], three.cwd, {**three.env, "NO_COLOR": "1"}, 100)
    shown = re.sub(r"\x1b\[[0-9;]*m", "", shown)  # bold stays with NO_COLOR
    rows = {line.split()[0]: line.split()[1:] for line in shown.splitlines() if line.strip()}
    assert rows["accuracy"] == ["0.8", "0.9", "*", "0.85"]
    assert rows["loss"] == ["0.5", "*", "0.7", "-"]
    assert rows["recommendation"] == ["RECOMMEND"]


def test_two_refs_keep_the_two_way_diff_and_bad_input_fails(three):
    two = three.json("diff", "m@0.1.0", "m@0.1.1")
    assert two["recommendation"] == "RECOMMEND_B" and "a" in two and "versions" not in two
    proc = three.fail("diff", "m@0.1.0", "m@0.1.1", "m@production")
    assert "m@0.1.1 and m@production are both m@0.1.1; give each version once" in proc.stderr
    assert "unknown" in three.fail("diff", "m@0.1.0", "m@0.1.1", "m@9.9.9").stderr
    three.fail("diff", "m@0.1.0", code=2)


def test_repo_diff_takes_any_number_of_refs(three):
    from mvc import Repo

    with Repo.open(three.cwd) as r:
        many = r.diff("m@0.1.0", "m@0.1.1", "m")
        assert many.to_dict() == three.json("diff", "m@0.1.0", "m@0.1.1", "m")
        assert r.diff("m@0.1.0", "m@0.1.1").recommendation == "RECOMMEND_B"


def test_params_equal_as_in_the_two_way_diff_and_strings_that_read_as_json_are_quoted(tmp_path_factory):
    repo = module_repo(tmp_path_factory)
    repo.add("p", b"1", "--param", "lr=1", "--param", 'flag="true"', "--param", "n=3")
    repo.add("p", b"2", "--param", "lr=1.0", "--param", "flag=true", "--param", "n=3")
    repo.add("p", b"3", "--param", "lr=1", "--param", "flag=true", "--param", 'n="3"')
    assert repo.json("diff", "p@0.1.0", "p@0.1.1")["params"]["changed"].keys() == {"flag"}  # 1 == 1.0
    many = repo.json("diff", "p@0.1.0", "p@0.1.1", "p@0.1.2")
    assert many["params"] == {"flag": {"p@0.1.0": "true", "p@0.1.1": True, "p@0.1.2": True},
                              "n": {"p@0.1.0": 3, "p@0.1.1": 3, "p@0.1.2": "3"}}
    rows = {r.split("\t")[0]: r.split("\t")[1:] for r in repo("diff", "p@0.1.0", "p@0.1.1", "p@0.1.2").stdout.splitlines()}
    assert rows["flag"] == ['"true"', "true", "true"] and rows["n"] == ["3", "3", '"3"']
    # Probe U: the two-way diff printed 'flag  true  true  changed', and '-' (a string) as the
    # mark of a missing param
    two = {r.split("\t")[1]: r.split("\t")[2:] for r in repo("diff", "p@0.1.0", "p@0.1.1").stdout.splitlines()
           if r.startswith("param\t")}
    assert two["flag"] == ['"true"', "true", "changed"], two
    repo.add("q", b"1", "--param", "c=-")
    repo.add("q", b"2", "--param", "e=1")
    repo.add("q", b"3", "--param", "c=x")
    rows = {r.split("\t")[0]: r.split("\t")[1:] for r in repo("diff", "q@0.1.0", "q@0.1.1", "q@0.1.2").stdout.splitlines()}
    assert rows["c"] == ['"-"', "-", "x"], rows
    two = {r.split("\t")[1]: r.split("\t")[2:] for r in repo("diff", "q@0.1.0", "q@0.1.1").stdout.splitlines()
           if r.startswith("param\t")}
    assert two["c"] == ['"-"', "-", "removed"], two
