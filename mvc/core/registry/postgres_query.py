"""``Registry.find_versions`` in PostgreSQL's SQL: the filters and the order of a query
(``core/query.py``) as joins, a WHERE clause, an ORDER BY and a LIMIT, as SQLite's
``sqlite_query.py`` writes them, with jsonb where SQLite has json_extract and json_type. Every
value the user gave is a bound parameter; only fixed SQL text and the operators of
``query.OPERATORS`` are written into the statement."""

from __future__ import annotations

from typing import Any, NamedTuple

from mvc.core.query import Filter, Sort
from mvc.core.registry.sqlite_query import STATE_SQL
from mvc.core.registry.values import LISTED_COLUMNS, UNSHOWN

_SQL_OP = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

# SPEC §1's state, as SQLite's query writes it, over the schema's tables
STATE_JOINS = (
    " LEFT JOIN mvc.channels cp ON cp.model_id = v.model_id AND cp.channel = 'production'"
    " LEFT JOIN mvc.channels cs ON cs.model_id = v.model_id AND cs.channel = 'staging'"
)


# Registry.list_versions's columns (values.py); a field that is no JSON fails the statement
LISTED = LISTED_COLUMNS + ", " + " AND ".join(f"json_typeof(v.{name}::json) = 'object'" for name in UNSHOWN)


class Clauses(NamedTuple):
    joins: str
    where: str  # without the word WHERE; "true" when there is no condition
    order: str  # without ORDER BY
    params: list[Any]  # for where, then order, then the limit (when limit is not None)


# beyond a double's range a number is +-infinity, as SQLite reads it (a cast to float8 would fail)
_DOUBLE_MAX = "1.7976931348623158e308"


def _number(column: str) -> str:
    """The number at key %s of a JSON object column as the double it compares as
    (query.Filter), NULL when it is missing or not a number."""
    n = f"(v.{column}::jsonb ->> %s)::numeric"
    return (f"(CASE WHEN jsonb_typeof(v.{column}::jsonb -> %s) = 'number' THEN (CASE"
            f" WHEN {n} > {_DOUBLE_MAX} THEN 'Infinity'::float8 WHEN {n} < -{_DOUBLE_MAX} THEN '-Infinity'::float8"
            f" ELSE {n}::float8 END) END)")


def _condition(f: Filter, params: list[Any]) -> str:
    op = _SQL_OP[f.op]
    if f.field == "metric":
        params += [f.name] * 4 + [f.value]
        return f"{_number('metrics')} {op} %s"
    if f.field == "param":
        if f.value is None or isinstance(f.value, bool):  # compared as JSON values, by type
            if f.value is None:
                same, args = "jsonb_typeof(v.params::jsonb -> %s) = 'null'", [f.name]
            else:
                same, args = "(v.params::jsonb -> %s) = %s::jsonb", [f.name, "true" if f.value else "false"]
            if f.op == "=":
                params += args
                return same
            params += [f.name, *args]  # present, and something else
            return f"(v.params::jsonb ? %s AND NOT {same})"
        if isinstance(f.value, (int, float)):
            params += [f.name] * 4 + [f.value]
            return f"{_number('params')} {op} %s"
        params += [f.name, f.name, f.value]
        return (f"(jsonb_typeof(v.params::jsonb -> %s) = 'string'"
                f" AND (v.params::jsonb ->> %s) COLLATE \"C\" {op} %s)")
    if f.field == "tag":
        params.append(f.value)
        return (f"{'' if f.op == '=' else 'NOT '}EXISTS (SELECT 1 FROM mvc.tags t"
                " WHERE t.version_id = v.id AND t.label = %s)")
    if f.field == "state":
        params.append(f.value)
        return f"{STATE_SQL} {op} %s"
    if f.field == "version":
        params.append(f.value)
        return f"v.sort_key {op} %s"
    if f.field == "created":
        params.append(f.value)
        return f"v.created_at COLLATE \"C\" {op} %s"
    raise ValueError(f"unknown filter field {f.field!r}")  # a bug: query.py makes only these


def clauses(filters: list[Filter], sort: Sort, limit: int | None) -> Clauses:
    params: list[Any] = []
    joins = STATE_JOINS if any(f.field == "state" for f in filters) else ""
    where = " AND ".join(_condition(f, params) for f in filters) or "true"
    direction = "DESC" if sort.descending else "ASC"
    if sort.key == "version":
        order = f"v.sort_key {direction}"
    elif sort.key == "created":
        order = f"v.created_at COLLATE \"C\" {direction}, v.id {direction}"
    else:
        # versions that lack the metric last, whichever the direction
        params += [sort.name] * 8
        order = f"{_number('metrics')} IS NULL, {_number('metrics')} {direction}, v.sort_key DESC"
    if limit is not None:
        params.append(limit)
    return Clauses(joins, where, order + (" LIMIT %s" if limit is not None else ""), params)
