"""config.toml: dotted keys over TOML tables; values parsed as TOML scalars where they parse."""

from __future__ import annotations

import math
import tomllib

import pytest
import tomli_w
from hypothesis import given, strategies as st

from mvc.core.config import SCHEMA, Config, parse_value, split_key
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
    assert cfg.value("version.default_bump") == SCHEMA["version.default_bump"].default == "patch"
    with pytest.raises(UserError):
        cfg.value("no.such")  # every read goes through the schema: an unknown key is refused
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
        cfg.value("compare.threshold")


# -- the schema (issue 8): one home for every key's default, type, check and role -------------

def test_every_default_passes_its_own_check():
    from mvc.core.config import SCHEMA, known_keys

    assert known_keys() == sorted(SCHEMA) and "channels.*.deploy_dir" in SCHEMA
    for name, key in SCHEMA.items():
        assert key.name == name and key.doc and key.accepts
        if key.default is not None:
            assert key.check(key.default) == key.default, name
    assert SCHEMA["compare.threshold"].default == 0.05
    assert SCHEMA["gc.grace_seconds"].default == 600 and SCHEMA["core.lock_timeout"].default == 60


def test_lookup_matches_patterns_and_knows_admin_keys():
    from mvc.core.config import SCHEMA, lookup, needs_admin

    assert lookup("channels.canary.deploy_dir") is SCHEMA["channels.*.deploy_dir"]
    assert lookup("remote.backup.url") is SCHEMA["remote.*.url"]
    assert lookup("channels.canary") is None and lookup("compare.weights") is None
    assert lookup("channels.-x.deploy_dir") is None  # a name part must be a valid name
    assert needs_admin("registry.url") and needs_admin("channels.canary.deploy_dir")
    assert needs_admin("registry.anything") and needs_admin("access.policy")  # unknown, but trust
    assert not needs_admin("compare.threshold") and not needs_admin("gc.grace_seconds")
    assert needs_admin("channels.canary", {"deploy_dir": "/x"})  # a whole table that holds one
    assert not needs_admin("compare", {"threshold": 0.1})


def test_value_checks_what_is_set_and_falls_back_to_the_default(tmp_path):
    cfg = Config(write(tmp_path / "c.toml", '[compare]\nlower_is_better = "*wer*"\nthreshold = -1\n'))
    assert cfg.value("compare.lower_is_better") == ("*wer*",)  # one pattern: a one-item list
    assert cfg.value("gc.grace_seconds") == 600 and cfg.value("core.remote") is None
    with pytest.raises(UserError, match=r"compare.threshold in .*c.toml is -1; it must be a number, 0 or more"):
        cfg.value("compare.threshold")
    with pytest.raises(UserError, match="unknown config key 'compare.nope'"):
        cfg.value("compare.nope")
    assert cfg.effective("compare.primary_metric") == ("accuracy", "default")
    with pytest.raises(UserError, match=r"compare.threshold in .*c.toml is -1"):  # get: not in effect, as
        cfg.effective("compare.threshold")  # git config --type=bool refuses a value that is no bool
    assert cfg.effective("compare.lower_is_better") == ("*wer*", "config")  # what is written, when valid
    with pytest.raises(NotFoundError, match="is not set \\("):
        cfg.effective("registry.url")
    bad_url = Config(write(tmp_path / "r.toml", '[registry]\nurl = "postgresql://ana:pw@db/mvc"\n'))
    with pytest.raises(UserError, match=r"password may not be written .*; edit .*r.toml$"):
        bad_url.value("registry.url")  # no command runs without the registry: the fix is by hand


def test_value_from_text_keeps_text_for_text_keys():
    from mvc.core.config import check, value_from_text

    assert value_from_text("channels.x.deploy_dir", "2024") == "2024"
    assert value_from_text("compare.primary_metric", "true") == "true"
    assert value_from_text("compare.threshold", "0.1") == 0.1
    assert value_from_text("core.lock_timeout", "soon") == "soon"  # and check says no
    with pytest.raises(UserError, match="core.lock_timeout must be a number of seconds, 0 or more"):
        check("core.lock_timeout", "soon")


LAYOUT = """\
# kept by hand

[compare]
threshold = 0.1  # agreed
# primary_metric = "f1"  (not yet)

# where the canary is served
[channels.canary]
deploy_dir = "/srv/canary"
"""


@pytest.mark.parametrize("key,value", [
    ("compare.primary_metric", "f1"), ("compare.weights.accuracy", 0.5), ("core.lock_timeout", 5),
    ("channels.blue.deploy_dir", "/b"), ("compare.lower_is_better", ["*wer*"]),
])
def test_set_then_unset_gives_back_the_same_text(tmp_path, key, value):
    path = write(tmp_path / "config.toml", LAYOUT)
    cfg = Config(path, tmp_path)
    cfg.set(key, value)
    text = path.read_text()
    assert "# where the canary is served\n[channels.canary]" in text and "threshold = 0.1  # agreed" in text
    assert Config(path).get_set(key) == value
    cfg.unset(key)
    assert path.read_text() == LAYOUT


def test_unset_of_a_table_keeps_the_comments_around_it(tmp_path):
    path = write(tmp_path / "config.toml", LAYOUT)
    Config(path, tmp_path).unset("channels.canary")
    assert path.read_text() == LAYOUT.split("[channels.canary]")[0]
    Config(path, tmp_path).unset("compare.threshold")
    assert tomllib.loads(path.read_text()) == {}
    assert path.read_text().startswith("# kept by hand\n") and "# where the canary is served" in path.read_text()
