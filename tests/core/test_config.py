"""config.toml: dotted keys over TOML tables; values parsed as TOML scalars where they parse."""

from __future__ import annotations

import math
import tomllib

import pytest
import tomli_w
from hypothesis import given, strategies as st

from mvc.core.config import DEFAULTS, Config, parse_value, split_key
from mvc.core.errors import NotFoundError, UserError

from support import write


@pytest.mark.parametrize("text,expected", [
    ("0.9", 0.9), ("60", 60), ("-3", -3), ("true", True), ("false", False), ('"quoted"', "quoted"),
    ("'lit'", "lit"), ("[1, 2]", [1, 2]), ("accuracy", "accuracy"), ("", ""), ("1_000", 1000),
    ("0x10", 16), ("hello world", "hello world"), ("s3://bucket/x", "s3://bucket/x"),
    ("1979-05-27", "1979-05-27"), ("07:32:00", "07:32:00"), ("{a = 1}", "{a = 1}"),
])
def test_parse_value(text, expected):
    value = parse_value(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text", ["1\nx = 2", "1\n[t]\na = 1", "true\n[other]", "[1979-05-27]",
                                  "[{a = 1}]", "[[1979-05-27]]"])
def test_parse_value_keeps_text_that_is_more_than_one_scalar(text):
    # one value, or the text: never half of what was typed, and never something JSON cannot hold
    assert parse_value(text) == text


def test_nan_and_inf_are_toml_floats():
    assert math.isnan(parse_value("nan")) and parse_value("-inf") == -math.inf


scalars = st.one_of(
    st.booleans(), st.integers(min_value=-2**63, max_value=2**63 - 1), st.text(max_size=30),
    st.floats(allow_nan=False),
)


@given(st.one_of(scalars, st.lists(scalars, max_size=4)))
def test_toml_scalars_round_trip(value):
    text = tomli_w.dumps({"v": value})[len("v = "):].rstrip("\n")
    assert parse_value(text) == value


@given(st.text(max_size=40))
def test_parse_value_never_fails(text):
    value = parse_value(text)
    if value != text:
        assert tomllib.loads(f"v = {text}") == {"v": value}


@pytest.mark.parametrize("key", ["", ".", "a.", ".a", "a..b", "a b", "a/b", "a\n", "ä"])
def test_invalid_keys(key):
    with pytest.raises(UserError, match="invalid config key"):
        split_key(key)


def test_set_get_unset_round_trip(tmp_path):
    path = tmp_path / "config.toml"
    cfg = Config(path, tmp_path)
    cfg.set("compare.primary_metric", "f1")
    cfg.set("compare.weights.accuracy", 0.5)
    cfg.set("core.lock_timeout", 5)
    again = Config(path)
    assert again.get_set("compare.weights.accuracy") == 0.5
    assert again.items() == {"compare.primary_metric": "f1", "compare.weights.accuracy": 0.5,
                             "core.lock_timeout": 5}
    assert tomllib.loads(path.read_text()) == {
        "compare": {"primary_metric": "f1", "weights": {"accuracy": 0.5}}, "core": {"lock_timeout": 5}}
    assert again.unset("compare.weights.accuracy") == 0.5
    assert "weights" not in Config(path).data["compare"]  # emptied tables go too
    again.unset("compare.primary_metric")
    assert Config(path).data == {"core": {"lock_timeout": 5}}
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temporary files left


def test_defaults_and_missing_keys(tmp_path):
    cfg = Config(tmp_path / "none.toml")
    assert cfg.get("version.default_bump") == DEFAULTS["version.default_bump"] == "patch"
    assert cfg.get("no.such", 7) == 7
    with pytest.raises(NotFoundError, match="not set"):
        cfg.get_set("version.default_bump")
    with pytest.raises(NotFoundError):
        cfg.unset("no.such")


def test_set_refuses_to_mix_tables_and_values(tmp_path):
    cfg = Config(tmp_path / "c.toml")
    cfg.set("a.b", 1)
    with pytest.raises(UserError, match="holds a value"):
        cfg.set("a.b.c", 2)
    with pytest.raises(UserError, match="table"):
        cfg.set("a", 3)
    assert Config(tmp_path / "c.toml").data == {"a": {"b": 1}}


def test_invalid_toml_is_a_user_error(tmp_path):
    cfg = Config(write(tmp_path / "c.toml", "not = = toml"))
    with pytest.raises(UserError, match="not valid TOML"):
        cfg.get("a")
