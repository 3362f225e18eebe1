"""Every --json document parses in a strict parser (SPEC §10, issue 10 item 12): NaN and
Infinity, which no JSON parser has to accept, never reach the output."""

from __future__ import annotations

import json
import sqlite3

import pytest

from support import write


def _refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")


def strict(text: str):
    return json.loads(text, parse_constant=_refuse)


@pytest.mark.parametrize("content", [
    '{"lr": NaN}', '{"lr": Infinity}', '{"opt": {"betas": [0.9, -Infinity]}}', '{"big": 1e400}',
])
def test_params_file_with_non_finite_numbers_is_refused(repo, content):
    write(repo.cwd / "m.bin", b"A")
    write(repo.cwd / "p.json", content)
    proc = repo.fail("add", "m.bin", "--name", "m", "--params-file", "p.json", code=1)
    assert "p.json" in proc.stderr and "finite" in proc.stderr
    assert repo.json("ls") == []


@pytest.mark.parametrize("content", ['{"acc": NaN}', '{"acc": -Infinity}', '{"acc": 1e400}'])
def test_metrics_file_with_non_finite_numbers_is_refused(repo, content):
    write(repo.cwd / "m.bin", b"A")
    write(repo.cwd / "f.json", content)
    repo.fail("add", "m.bin", "--name", "m", "--metrics-file", "f.json", code=1)


def test_a_param_that_is_not_strict_json_is_kept_as_a_string(repo):
    write(repo.cwd / "m.bin", b"A")
    repo("add", "m.bin", "--name", "m", "--param", "a=NaN", "--param", "b=[1, Infinity]", "--param", "c=1e999")
    params = strict(repo("show", "m@latest", "--json").stdout)["params"]
    assert params == {"a": "NaN", "b": "[1, Infinity]", "c": "1e999"}


def test_diff_of_values_near_the_float_limit_prints_no_infinity(repo):
    repo.add("m", b"A", "--metric", "accuracy=1.7e308", "--metric", "loss=-1.7e308")
    repo.add("m", b"B", "--metric", "accuracy=-1.7e308", "--metric", "loss=1.7e308")
    proc = repo("diff", "m@0.1.0", "m@0.1.1", "--json")
    assert "Infinity" not in proc.stdout
    doc = strict(proc.stdout)
    assert doc["metrics"]["accuracy"]["diff"] is None and doc["metrics"]["accuracy"]["improved"] is False
    assert doc["metrics"]["loss"]["diff"] is None and doc["metrics"]["loss"]["improved"] is False
    assert doc["performance_delta"] is None and doc["recommendation"] == "RECOMMEND_A"
    assert "n/a" in repo("diff", "m@0.1.0", "m@0.1.1").stdout


def test_non_finite_values_already_in_a_registry_print_as_null(repo):
    repo.add("m", b"A", "--param", "lr=0.1")
    conn = sqlite3.connect(repo.mvc_dir / "registry.db")
    conn.execute("""UPDATE versions SET params = '{"lr": NaN, "x": [Infinity]}'""")
    conn.commit()
    conn.close()
    doc = strict(repo("show", "m@latest", "--json").stdout)
    assert doc["params"] == {"lr": None, "x": [None]}


def test_every_json_output_parses_strictly(repo):
    repo.add("m", b"A", "--metric", "accuracy=0.5", "--param", "lr=0.1", "--tag", "best")
    repo.add("m", b"B", "--metric", "accuracy=0.7", "--param", "lr=0.2")
    repo("promote", "m@0.1.0", "staging")
    for args in (["ls"], ["ls", "m"], ["show", "m@latest"], ["log", "m"], ["diff", "m@0.1.0", "m@0.1.1"],
                 ["lineage", "m@latest"], ["verify"], ["fsck"],
                 ["gc", "--dry-run"], ["audit"], ["stats"], ["resolve", "m", "--channel", "staging"],
                 ["tag", "m"], ["config", "list"], ["access", "list"], ["remote", "list"]):
        strict(repo(*args, "--json").stdout)
    strict(repo("ls", "nope", "--json", check=False).stdout)


def test_diff_of_whole_numbers_further_apart_than_a_float_holds(repo):
    """add takes whole numbers up to about 1.8e308 as they are; their difference overflowed a
    float and diff said 'internal error (OverflowError)' (probe U)."""
    big = "1" + "0" * 308
    repo.add("m", b"A", "--metric", f"accuracy={big}")
    repo.add("m", b"B", "--metric", f"accuracy=-{big}")
    for refs in (("m@0.1.0", "m@0.1.1"), ("m@0.1.1", "m@0.1.0")):
        doc = strict(repo("diff", *refs, "--json").stdout)
        assert doc["metrics"]["accuracy"]["diff"] is None, doc["metrics"]
    assert "n/a" in repo("diff", "m@0.1.0", "m@0.1.1").stdout
