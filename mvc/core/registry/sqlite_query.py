"""``Registry.find_versions`` in SQLite's SQL: the filters and the order of a query
(``core/query.py``) as joins, a WHERE clause, an ORDER BY and a LIMIT. Every value the user
gave is a bound parameter; only fixed SQL text and the operators of ``query.OPERATORS`` are
written into the statement."""

from __future__ import annotations

from typing import Any, NamedTuple

from mvc.core.query import Filter, Sort
from mvc.core.registry.values import LISTED_COLUMNS, UNSHOWN

_SQL_OP = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

# SPEC §1: archived, else what the production channel serves (stable or canary), else staging
STATE_JOINS = (
    " LEFT JOIN channels cp ON cp.model_id = v.model_id AND cp.channel = 'production'"
    " LEFT JOIN channels cs ON cs.model_id = v.model_id AND cs.channel = 'staging'"
)
STATE_SQL = (
    "(CASE WHEN v.archived THEN 'archived'"
    " WHEN v.id IN (cp.version_id, cp.canary_version_id) THEN 'production'"
    " WHEN v.id IN (cs.version_id, cs.canary_version_id) THEN 'staging'"
    " ELSE 'development' END)"
)
_JSON_TYPES = {True: "true", False: "false", None: "null"}


# Registry.list_versions's columns (values.py): json_valid is RFC 8259 JSON (no JSON5), the CASE
# keeps json_type (which fails on malformed JSON) from seeing what is not JSON
LISTED = LISTED_COLUMNS + ", " + " AND ".join(
    f"CASE WHEN json_valid(v.{name}) THEN json_type(v.{name}) = 'object' END" for name in UNSHOWN)


class Clauses(NamedTuple):
    joins: str
    where: str  # without the word WHERE; "1" when there is no condition
    order: str  # without ORDER BY
    params: list[Any]  # for where, then order, then the limit (when limit is not None)


def json_path(name: str) -> str:
    """SQLite's JSON path of one top-level key (metric and param names never hold a quote)."""
    return '$."' + name + '"'


def _condition(f: Filter, params: list[Any]) -> str:
    op = _SQL_OP[f.op]
    if f.field == "metric":
        params += [json_path(f.name), f.value]
        return f"CAST(json_extract(v.metrics, ?) AS REAL) {op} ?"  # numbers as doubles (query.Filter)
    if f.field == "param":
        path = json_path(f.name)
        if f.value is None or isinstance(f.value, bool):
            jtype = _JSON_TYPES[f.value]
            if f.op == "=":
                params += [path, jtype]
                return "json_type(v.params, ?) = ?"
            params += [path, path, jtype]
            return "(json_type(v.params, ?) IS NOT NULL AND json_type(v.params, ?) <> ?)"
        types = "('integer', 'real')" if isinstance(f.value, (int, float)) else "('text')"
        params += [path, path, f.value]
        number = "CAST(json_extract(v.params, ?) AS REAL)" if types != "('text')" else "json_extract(v.params, ?)"
        return f"(json_type(v.params, ?) IN {types} AND {number} {op} ?)"
    if f.field == "tag":
        params.append(f.value)
        # not correlated: SQLite reads the tags once (tags has no index on version_id)
        return f"v.id {'IN' if f.op == '=' else 'NOT IN'} (SELECT t.version_id FROM tags t WHERE t.label = ?)"
    if f.field == "state":
        params.append(f.value)
        return f"{STATE_SQL} {op} ?"
    if f.field == "version":
        params.append(f.value)
        return f"v.sort_key {op} ?"
    if f.field == "created":
        params.append(f.value)
        return f"v.created_at {op} ?"
    raise ValueError(f"unknown filter field {f.field!r}")  # a bug: query.py makes only these


def clauses(filters: list[Filter], sort: Sort, limit: int | None) -> Clauses:
    params: list[Any] = []
    joins = STATE_JOINS if any(f.field == "state" for f in filters) else ""
    where = " AND ".join(_condition(f, params) for f in filters) or "1"
    direction = "DESC" if sort.descending else "ASC"
    if sort.key == "version":
        order = f"v.sort_key {direction}"
    elif sort.key == "created":
        order = f"v.created_at {direction}, v.id {direction}"
    else:
        # versions that lack the metric last, whichever the direction
        params += [json_path(sort.name), json_path(sort.name)]
        order = (f"json_type(v.metrics, ?) IS NULL, CAST(json_extract(v.metrics, ?) AS REAL) {direction},"
                 " v.sort_key DESC")
    if limit is not None:
        params.append(limit)
    return Clauses(joins, where, order + (" LIMIT ?" if limit is not None else ""), params)
