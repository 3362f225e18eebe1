"""``find_versions`` (``mvc ls NAME --where --sort --limit``) in each backend's SQL gives what
the reference in Python (the Registry fallback over ``query.select``) gives, on both backends."""

from __future__ import annotations

import pytest

from mvc.core import query
from mvc.core.registry.base import ChannelRow, Registry

from core.test_registry import backend, new_version, reg  # noqa: F401  (fixtures)

WHERE = [
    [], ["accuracy > 0.5"], ["accuracy <= 0.3", "param.lr < 0.05"], ["param.optimizer = adam"],
    ["param.optimizer != adam"], ["param.flag = true"], ["param.flag != true"], ["param.note = null"],
    ["param.note != null"], ["param.lr = 0.01"], ["tag = best"], ["tag != best"], ["state = production"],
    ["state = staging"], ["state = development"], ["state = archived"], ["version >= 0.10.0"],
    ["created < 2026-01-15"], ["latency_ms > 10", "state != archived"],
]
SORTS = [("version", None, True), ("version", None, False), ("created", None, True),
         ("metric", "accuracy", True), ("metric", "accuracy", False), ("metric", "latency_ms", False)]


@pytest.fixture
def filled(reg):
    with reg.transaction():
        for i in range(30):
            metrics = {"accuracy": (i * 37 % 100) / 100}
            if i % 3:
                metrics["latency_ms"] = float(i % 7 * 3)
            params = {"lr": [0.01, 0.1, 0.001][i % 3], "optimizer": ["adam", "sgd"][i % 2]}
            if i % 4 == 0:
                params["flag"] = i % 8 == 0
            if i % 5 == 0:
                params["note"] = None if i % 10 == 0 else "x"
            reg.insert_version(new_version(version=f"0.{i}.0", metrics=metrics, params=params,
                                           created_at=f"2026-01-{i % 28 + 1:02d}T00:00:00Z"))
        for i in (3, 7, 11):
            reg.set_tag("resnet", f"best{'' if i == 7 else i}", f"0.{i}.0", "u", "t")
        reg.set_channel(ChannelRow("resnet", "production", "0.5.0", "0.6.0", 10, "blue", "t"))
        reg.set_channel(ChannelRow("resnet", "staging", "0.8.0", None, 0, "blue", "t"))
        reg.set_archived("resnet", "0.9.0", True)
    return reg


@pytest.mark.parametrize("where", WHERE, ids=lambda w: " & ".join(w) or "all")
def test_the_backend_sql_agrees_with_the_reference(filled, where):
    filters = query.parse_filters(where)
    for key, name, descending in SORTS:
        for limit in (None, 4):
            sort = query.Sort(key, name, descending)
            got = [v.version for v in filled.find_versions("resnet", filters, sort, limit)]
            want = [v.version for v in Registry.find_versions(filled, "resnet", filters, sort, limit)]
            assert got == want, (where, sort, limit)


@pytest.mark.parametrize("where", [[], ["tag = best"], ["accuracy > 0.5", "state != archived"]], ids=str)
def test_a_listing_reads_the_rows_find_versions_reads(filled, where):
    """list_versions (ls NAME: the columns a listing shows, checked in bulk) gives what the
    fallback cut from full rows gives."""
    filters = query.parse_filters(where)
    for key, name, descending in SORTS:
        sort = query.Sort(key, name, descending)
        got = filled.list_versions("resnet", filters, sort, None)
        assert got == Registry.list_versions(filled, "resnet", filters, sort, None), (where, sort)
        assert got.versions and {type(m) for m in got.metrics} == {dict} and {type(a) for a in got.archived} == {bool}


def test_lineage_reach_in_one_query_is_the_level_by_level_walk(reg):
    """lineage_reach's recursive query reads the rows the fallback reads level by level, and
    a walk over them is the walk that asks level by level (a --depth that never binds)."""
    from mvc.core import lineage
    from mvc.core.registry.base import LineageInput

    a, b, c = ("data", "sha256:" + "a" * 64), ("data", "sha256:" + "b" * 64), ("code", "sha256:" + "c" * 64)
    inputs = {1: [0, a], 2: [1, c], 3: [1, a], 4: [2, 3], 5: [b], 6: [5, 4, a], 7: [6, c]}  # 0 has none
    ids = {}
    with reg.transaction():
        for i in range(9):
            ids[i] = reg.insert_version(new_version(model="m", version=f"0.{i + 1}.0")).id
            reg.add_lineage(ids[i], [LineageInput("model", parent=("m", f"0.{x + 1}.0")) if isinstance(x, int)
                                     else LineageInput(x[0], x[1], f"/{x[0]}", {"size": 1}) for x in inputs.get(i, [])])
    starts = [(ids[i], None, lineage.model_id("m", f"0.{i + 1}.0")) for i in range(9)]
    starts += [(None, key, lineage.input_id(*key)) for key in (a, b, c)]
    for vid, key, node in starts:
        for up in (True, False):
            got, want = reg.lineage_reach(vid, key, up), Registry.lineage_reach(reg, vid, key, up)
            assert sorted(got, key=repr) == sorted(want, key=repr), (node, up)
        one = lineage.neighbourhood(lineage.walk(reg, node, vid), node)
        assert one == lineage.neighbourhood(lineage.walk(reg, node, vid, depth=50), node), node
    # 1, 3 and 6 read A; then the parent rows out of 1 (to 2, 3), 2 and 3 (to 4), 4 (to 6), 6 (to 7)
    assert len(reg.lineage_reach(None, a, False)) == 3 + 6


@pytest.mark.parametrize("column,value,words", [
    ("params", "nope", "params of resnet@0.1.0"), ("env", "[1]", "env of resnet@0.1.0"),
    ("git", '{"a": ', "git of resnet@0.1.0"), ("metrics", "7", "metrics of resnet@0.1.0"),
    ("digest", "sha256:AB", "digest of resnet@0.1.0"),
])
def test_a_listing_finds_damage_in_fields_it_does_not_show(reg, backend, column, value, words):
    """A listing checks the JSON fields it does not show (PostgreSQL: the server, json_typeof);
    damage is an IntegrityError naming the field, as reading the full rows gives, also inside
    a transaction, which stays usable."""
    from contextlib import nullcontext

    from mvc.core.errors import IntegrityError

    with reg.transaction():
        for v in ("0.1.0", "0.2.0"):
            reg.insert_version(new_version(version=v))
    backend.sql(f"UPDATE mvc.versions SET {column} = %s WHERE version = '0.1.0'", (value,))
    sort = query.Sort("version", None, True)
    for inside in (False, True):
        with reg.transaction() if inside else nullcontext():
            with pytest.raises(IntegrityError, match="registry is damaged") as info:
                reg.list_versions("resnet", [], sort)
            assert words in info.value.message
            assert reg.list_versions("resnet", [], sort, 1).versions == ["0.2.0"]  # the damaged row not listed


def test_a_listing_reads_json_python_reads_and_the_server_refuses(reg, backend):
    """NaN in params (a registry written before mvc refused it): Python's JSON reader takes it
    and PostgreSQL's json refuses it; the listing is the full rows' then, on both backends."""
    with reg.transaction():
        reg.insert_version(new_version())
    backend.sql("UPDATE mvc.versions SET params = %s", ('{"lr": NaN}',))
    listed = reg.list_versions("resnet", [], query.Sort("version", None, True))
    assert listed.versions == ["0.1.0"] and listed.metrics == [{"acc": 0.9}]
