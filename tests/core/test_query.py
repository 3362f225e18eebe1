"""The parser of ``mvc ls NAME --where EXPR --sort KEY`` (core/query.py), and the ranking of
three or more versions (core/ranking.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvc.core import query
from mvc.core.compare import Settings
from mvc.core.errors import UserError
from mvc.core.ranking import compare_many
from mvc.core.semver import parse_version

NAMES = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.:/\-\[\]]{0,30}", fullmatch=True).filter(
    lambda n: n not in ("tag", "state", "version", "created") and not n.startswith(("param.", "metric.")))
OPS = st.sampled_from(query.OPERATORS)
SPACE = st.sampled_from(["", " ", "  "])


@given(NAMES, OPS, st.floats(allow_nan=False, allow_infinity=False), SPACE, SPACE)
def test_a_metric_compares_with_a_number(name, op, value, s1, s2):
    f = query.parse_filter(f"{s1}{name}{s2}{op}{s1}{value!r}{s2}")
    assert f == query.Filter("metric", name, op, value)


@given(NAMES, OPS, st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                             st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)))
def test_a_param_compares_with_a_json_value_or_a_string(name, op, value):
    f = query.parse_filter(f"param.{name} {op} {value}")
    assert (f.field, f.name, f.op) == ("param", name, op)
    if value in ("true", "false", "null"):
        return
    assert f.value == value and type(f.value) is (float if isinstance(value, int) else type(value))  # as doubles


@given(st.text(max_size=40))
def test_any_text_parses_or_is_exit_1_showing_the_accepted_form(text):
    try:
        f = query.parse_filter(text)
    except UserError as exc:
        assert exc.exit_code == 1
        assert "KEY OP VALUE" in exc.message and "= != < <= > >=" in exc.message
        assert "\n" not in exc.message.replace(text[:77], "")
    else:
        assert f.field in query.FIELDS and f.op in query.OPERATORS


@given(st.from_regex(r"(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})", fullmatch=True), OPS)
def test_a_version_compares_in_semver_order(version, op):
    f = query.parse_filter(f"version {op} v{version}")
    assert f == query.Filter("version", None, op, parse_version(version).text_key())


@pytest.mark.parametrize("expr, why", [
    ("accuracy", "not KEY OP VALUE"),
    ("accuracy >", "value is missing"),
    ("accuracy > high", "compares with a finite number"),
    ("accuracy > nan", "compares with a finite number"),
    ("accuracy ~ 3", "not KEY OP VALUE"),
    ("tag > best", "tag compares only with = or !="),
    ("state = live", "a state is one of development, staging, production, archived"),
    ("state < production", "state compares only with = or !="),
    ("version > 1.x", "not a version"),
    ("param. = 3", "param. must be followed by a parameter name"),
    ("param.layers = [1,2]", "a parameter compares with a number, a string"),
    ("param.flag < true", "compares only with = or !="),
    ("acc uracy = 3", "not KEY OP VALUE"),
])
def test_bad_expressions_say_what_is_wrong_and_the_form(expr, why):
    with pytest.raises(UserError) as exc:
        query.parse_filter(expr)
    assert why in exc.value.message and "write KEY OP VALUE" in exc.value.message


def test_tags_states_and_explicit_metrics():
    assert query.parse_filter("tag = best") == query.Filter("tag", None, "=", "best")
    assert query.parse_filter("state!=archived") == query.Filter("state", None, "!=", "archived")
    assert query.parse_filter("metric.version >= 2") == query.Filter("metric", "version", ">=", 2.0)
    assert query.parse_filter("accuracy == 0.5") == query.Filter("metric", "accuracy", "=", 0.5)
    assert query.parse_filter("param.opt = 'adam'").value == "adam"  # single quotes as double ones
    assert query.parse_filter('param.seed = "42"').value == "42"
    assert query.parse_filter("param.seed = 42").value == 42
    assert query.parse_filter("param.flag = true").value is True


def test_sort_keys_and_directions():
    lower = Settings().lower_better
    assert query.parse_sort(None, False, lower) == query.Sort("version", None, True)
    assert query.parse_sort("created", True, lower) == query.Sort("created", None, False)
    assert query.parse_sort("accuracy", False, lower) == query.Sort("metric", "accuracy", True)
    assert query.parse_sort("val_loss", False, lower) == query.Sort("metric", "val_loss", False)
    assert query.parse_sort("val_loss", True, lower) == query.Sort("metric", "val_loss", True)
    with pytest.raises(UserError, match="use version, created or a metric name"):
        query.parse_sort("acc uracy", False, lower)
    with pytest.raises(UserError, match="at least 1"):
        query.check_limit(0)


# -- three or more versions -------------------------------------------------------------


def _many(*sides, **settings):
    return compare_many([(f"m@{i}", m, p) for i, (m, p) in enumerate(sides)], Settings(**settings))


def test_the_best_of_each_metric_by_its_direction_and_the_params_that_differ():
    out = _many(({"accuracy": 0.8, "loss": 0.5}, {"lr": 0.1, "opt": "adam"}),
                ({"accuracy": 0.9, "loss": 0.7}, {"lr": 0.1, "opt": "sgd"}),
                ({"accuracy": 0.85}, {"lr": 0.1, "extra": 1}))
    assert out["versions"] == ["m@0", "m@1", "m@2"]
    assert out["metrics"] == {"accuracy": {"m@0": 0.8, "m@1": 0.9, "m@2": 0.85}, "loss": {"m@0": 0.5, "m@1": 0.7}}
    assert out["best"] == {"accuracy": "m@1", "loss": "m@0"}
    assert out["params"] == {"extra": {"m@2": 1}, "opt": {"m@0": "adam", "m@1": "sgd"}}
    assert out["recommendation"] == {"verdict": "RECOMMEND", "ref": "m@1"}


@pytest.mark.parametrize("values, verdict, ref", [
    ([0.80, 0.83, 0.82], "SIMILAR_PERFORMANCE", "m@0"),  # 0.03 is not more than 5% of 0.80
    ([0.80, 0.85, 0.90], "RECOMMEND", "m@2"),
    ([0.90, 0.50, 0.60], "SIMILAR_PERFORMANCE", "m@0"),  # the baseline is the best
    ([0.0, 0.001, -1.0], "RECOMMEND", "m@1"),  # a zero baseline: any strict improvement
    ([-2.0, -1.5, -1.95], "RECOMMEND", "m@1"),  # negative values do not turn the rule round
    ([None, 0.9, 0.95], "INSUFFICIENT_DATA", None),
    ([0.9, None, None], "INSUFFICIENT_DATA", None),
    ([0.8, 0.9, 0.9], "RECOMMEND", "m@1"),  # a tie goes to the version given first
])
def test_the_recommendation_uses_the_two_way_threshold_rule(values, verdict, ref):
    sides = [({"accuracy": v} if v is not None else {}, {}) for v in values]
    assert _many(*sides)["recommendation"] == {"verdict": verdict, "ref": ref}


def test_lower_is_better_for_the_primary_metric():
    sides = [({"latency_ms": v}, {}) for v in (100.0, 80.0, 97.0)]
    out = _many(*sides, primary_metric="latency_ms")
    assert out["best"] == {"latency_ms": "m@1"}
    assert out["recommendation"] == {"verdict": "RECOMMEND", "ref": "m@1"}


# -- the SQLite backend's SQL agrees with the reference, on random versions and queries -------

VALUES = st.one_of(st.integers(-5, 5), st.sampled_from([0.5, -1.25, 2.0]), st.sampled_from(["a", "b", "Ä", ""]),
                   st.booleans(), st.none())
VERSION = st.fixed_dictionaries({
    "metrics": st.dictionaries(st.sampled_from(["acc", "loss"]), st.integers(-3, 3) | st.sampled_from([0.5, 1.5])),
    "params": st.dictionaries(st.sampled_from(["p", "q"]), VALUES),
    "archived": st.booleans(),
    "tag": st.sampled_from([None, "best", "old"]),
})
EXPR = st.one_of(
    st.builds("{} {} {}".format, st.sampled_from(["acc", "loss"]), OPS, st.sampled_from(["0", "1", "-2", "0.5"])),
    st.builds("param.{} {} {}".format, st.sampled_from(["p", "q"]), OPS,
              st.sampled_from(["1", "-1", "0.5", "2.0", "a", "b", "Ä", "0"])),
    st.builds("param.{} {} {}".format, st.sampled_from(["p", "q"]), st.sampled_from(["=", "!="]),
              st.sampled_from(["true", "false", "null"])),
    st.builds("tag {} {}".format, st.sampled_from(["=", "!="]), st.sampled_from(["best", "old"])),
    st.builds("state {} {}".format, st.sampled_from(["=", "!="]), st.sampled_from(query.STATES)),
    st.builds("version {} 0.1.{}".format, OPS, st.integers(0, 6)),
)


@settings(max_examples=30, deadline=None)  # a registry a case: 30 cases ~3 s (500 ran clean)
@given(st.lists(VERSION, min_size=1, max_size=7), st.lists(EXPR, max_size=3),
       st.sampled_from(["version", "created", "acc", "loss"]), st.booleans(), st.sampled_from([None, 1, 3]))
def test_sqlite_agrees_with_the_reference(tmp_path_factory, versions, where, sort, reverse, limit):
    from mvc.core.registry.base import ChannelRow, NewVersion, Registry
    from mvc.core.registry.sqlite import SqliteRegistry

    reg = SqliteRegistry(tmp_path_factory.mktemp("q") / "registry.db", create=True)
    try:
        with reg.transaction():
            for i, v in enumerate(versions):
                reg.insert_version(NewVersion(
                    "m", f"0.1.{i}", f"sha256:{i:064x}", 1, "file", "m.bin", "", v["metrics"], v["params"],
                    {}, {}, f"2026-01-0{7 - i}T00:00:00Z", "u"))
                if v["tag"]:
                    reg.set_tag("m", v["tag"], f"0.1.{i}", "u", "t")
            reg.set_channel(ChannelRow("m", "production", "0.1.0", None, 0, "blue", "t"))
            if len(versions) > 1:
                reg.set_channel(ChannelRow("m", "staging", "0.1.1", "0.1.0", 5, "blue", "t"))
            for i, v in enumerate(versions):
                if v["archived"] and i > 1:
                    reg.set_archived("m", f"0.1.{i}", True)
        filters = query.parse_filters(where)
        order = query.parse_sort(sort, reverse, Settings().lower_better)
        got = [r.version for r in reg.find_versions("m", filters, order, limit)]
        assert got == [r.version for r in Registry.find_versions(reg, "m", filters, order, limit)]
    finally:
        reg.close()
