"""Metrics (numbers only) and parameters (JSON where it parses) from K=V strings and files."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from mvc.core.errors import UserError
from mvc.core.metrics import (
    collect_metrics, collect_params, flatten, load_json_object, metric_value, param_value,
    parse_metric, parse_param,
)

from support import write

keys = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.:/\-\[\]]{0,40}", fullmatch=True)


@pytest.mark.parametrize("text,expected", [
    ("accuracy=0.91", ("accuracy", 0.91)), ("loss=-1.5e-3", ("loss", -0.0015)),
    ("epochs=10", ("epochs", 10)), (" f1 = 0.5 ", ("f1", 0.5)), ("val/acc=1", ("val/acc", 1)),
    ("top-5.acc=+3", ("top-5.acc", 3)), ("x=1E3", ("x", 1000.0)),
])
def test_metrics(text, expected):
    key, value = parse_metric(text)
    assert (key, value) == expected and type(value) is type(expected[1])


@pytest.mark.parametrize("text", ["accuracy", "accuracy=", "accuracy=high", "a=nan", "a=NaN", "a=inf",
                                  "a=-Infinity", "a=1e999", "=1", "bad key=1", "a=true", "a=[1]",
                                  "a=0x10"])
def test_bad_metrics_are_user_errors(text):
    with pytest.raises(UserError) as info:
        parse_metric(text)
    assert info.value.exit_code == 1


@pytest.mark.parametrize("value", [True, None, "x", [1], {"a": 1}, float("nan"), float("inf"),
                                   object(), b"1"])
def test_metric_values_from_files_or_the_api_must_be_numbers(value):
    with pytest.raises(UserError, match="number"):
        metric_value("m", value)


@pytest.mark.parametrize("text,expected", [
    ("lr=0.001", 0.001), ("layers=[1,2]", [1, 2]), ("opt=adam", "adam"), ("flag=true", True),
    ("none=null", None), ("s=\"quoted\"", "quoted"), ("x=NaN", "NaN"), ("x=Infinity", "Infinity"),
    ("cfg={\"a\":1}", {"a": 1}), ("empty=", ""), ("eq=a=b", "a=b"),
])
def test_params(text, expected):
    assert parse_param(text)[1] == expected


@given(keys, st.one_of(st.integers(min_value=-10**15, max_value=10**15),
                       st.floats(allow_nan=False, allow_infinity=False)))
def test_numbers_round_trip(key, number):
    k, v = parse_metric(f"{key}={number!r}")
    assert k == key and v == number and math.isfinite(v)


@given(keys, st.text(max_size=30))
def test_metric_text_is_a_number_or_a_user_error(key, text):
    try:
        k, v = parse_metric(f"{key}={text}")
    except UserError:
        return
    assert isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@given(st.text(max_size=60))
def test_any_metric_string_parses_or_raises_user_error(text):
    try:
        parse_metric(text)
    except UserError:
        pass


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10)
                    | st.floats(allow_nan=False, allow_infinity=False),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                    max_leaves=8))
def test_json_params_round_trip(value):
    assert param_value(json.dumps(value)) == value


def test_files_are_flattened(tmp_path):
    m = write(tmp_path / "metrics.json", json.dumps({"val": {"acc": 0.9, "loss": {"ce": 0.1}}, "top1": 1}))
    p = write(tmp_path / "params.json", json.dumps({"optim": {"lr": 0.1, "betas": [0.9, 0.99]}, "empty": {}}))
    assert collect_metrics(["top1=2"], [m]) == {"val.acc": 0.9, "val.loss.ce": 0.1, "top1": 2}
    assert collect_params(["x=1"], [p]) == {"optim.lr": 0.1, "optim.betas": [0.9, 0.99], "empty": {}, "x": 1}
    assert flatten({"a": {"b": {"c": 1}}}) == {"a.b.c": 1}


@pytest.mark.parametrize("content,match", [
    ("[1, 2]", "JSON object"), ("{not json", "not valid JSON"), ('{"acc": "high"}', "number"),
    ('{"acc": NaN}', "finite"), ('{"a": {"b": [1]}}', "number"), ('{"bad key": 1}', "invalid metric"),
    ('{"acc\\n": 1}', "invalid metric"),
])
def test_bad_metrics_files(tmp_path, content, match):
    f = write(tmp_path / "m.json", content)
    with pytest.raises(UserError, match=match):
        collect_metrics([], [f])


def test_a_bad_metric_says_how_to_write_one_where_it_was_written(tmp_path):
    """A metrics file's bad value shows the JSON to write, not the command line's K=V; a
    value out of a float's range says the range, on the command line and in --where alike."""
    f = write(tmp_path / "m.json", '{"acc": " 0.9"}')
    with pytest.raises(UserError) as info:
        collect_metrics([], [f])
    assert info.value.message.endswith(f'(e.g. "acc": 0.91 in {f})')
    with pytest.raises(UserError) as info:
        parse_metric("acc=x1")
    assert info.value.message.endswith("(e.g. acc=0.91)")
    with pytest.raises(UserError) as info:
        parse_metric("acc=1e999")
    assert "finite number (at most about 1.8e308), not '1e999'" in info.value.message


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_json_object(tmp_path / "nope.json", "metrics")
    with pytest.raises(UserError, match="cannot read"):
        load_json_object(write(tmp_path / "bin.json", b"\xff\xfe\x00"), "metrics")


# -- strict JSON (SPEC §10, issue 10 item 12) ------------------------------------------------

@pytest.mark.parametrize("content", ['{"lr": NaN}', '{"a": [Infinity]}', '{"a": {"b": -Infinity}}', '{"x": 1e400}'])
def test_params_files_refuse_numbers_json_cannot_carry(tmp_path, content):
    f = write(tmp_path / "p.json", content)
    with pytest.raises(UserError, match="not finite"):
        collect_params([], [f])


def test_params_given_as_values_must_be_strict_json(tmp_path, monkeypatch):
    from apirepo import api_repo

    repo = api_repo(tmp_path, monkeypatch)
    write(tmp_path / "m.bin", b"A")
    for bad in (float("nan"), [float("inf")], {"x": object()}):
        with pytest.raises(UserError, match="parameter 'p'"):
            repo.add(tmp_path / "m.bin", name="m", params={"p": bad})
    assert repo.add(tmp_path / "m.bin", name="m", params={"p": [1.5, "NaN"]}).created
