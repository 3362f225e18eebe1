"""Queries over one model's versions (SPEC §3 ``mvc ls NAME --sort/--where/--limit``): the
parser of ``--where KEY OP VALUE`` and ``--sort KEY`` into plain, backend-neutral terms that a
registry backend turns into SQL (``Registry.find_versions``), so that filtering and sorting
run in the registry, never by reading every version into Python.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, NamedTuple

from mvc.core.errors import NotFoundError, UserError, option
from mvc.core.metrics import NUMBER, param_value
from mvc.core.semver import parse_version
from mvc.core.serving import STATES

OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
FIELDS = ("metric", "param", "tag", "state", "version", "created")

FORM = ("KEY OP VALUE, OP one of = != < <= > >=, KEY a metric name, param.NAME, tag, state, "
        "version or created (e.g. 'accuracy >= 0.9', 'param.optimizer = adam', 'tag = best', "
        "'state != archived', 'version >= 1.2.0')")
SORT_FORM = "version, created or a metric name (e.g. --sort accuracy)"

# A metric or parameter name as mvc add accepts it (metrics.check_key), optionally written
# metric.NAME (for a metric called tag, state, version or created).
_EXPR = re.compile(r"^\s*(?P<key>[A-Za-z0-9_][A-Za-z0-9_.:/\-\[\]]{0,133})\s*"
                   r"(?P<op>==|!=|<=|>=|=|<|>)\s*(?P<value>.*?)\s*\Z", re.ASCII | re.DOTALL)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/\-\[\]]{0,127}\Z", re.ASCII)


class Filter(NamedTuple):
    """One condition on a version. ``field`` and what ``value`` holds:

    - ``metric``: ``name`` the metric, ``value`` a float; a version that lacks the metric
      never matches (also not ``!=``).
    - ``param``: ``name`` the parameter, ``value`` a str, float, bool or None; matches
      only a stored value of the same JSON type (a number never equals a string), and one
      that lacks the parameter never matches.

    Numbers (metrics and params) compare as 64-bit floats on every backend (``double``): a
    stored or given integer is its nearest float (beyond the range of a float, +-infinity),
    so 2**53 + 1 equals 2**53 and 1 equals 1.0, as in JSON tools and JavaScript.
    - ``tag``: ``value`` a label; ``=`` holds when the version carries the tag, ``!=`` when
      it does not. No other operator.
    - ``state``: ``value`` one of STATES (derived as in SPEC §1); ``=`` and ``!=`` only.
    - ``version``: ``value`` the semver ``text_key`` of the version given: compare the
      registry's ``sort_key`` with it (its byte order is the semver order).
    - ``created``: ``value`` the UTC instant given (an ISO 8601 date or date and time, ``T``
      or a space between them, with or without an offset; without one it is UTC) written
      as ``created_at`` is (``2026-11-27T19:58:14.000000Z``), so that the text order is the
      order in time.
    """

    field: str
    name: str | None
    op: str  # one of OPERATORS
    value: Any


class Sort(NamedTuple):
    """The order of the result: ``key`` is ``version`` (semver, by ``sort_key``), ``created``
    (``created_at``, then the row id) or ``metric`` (the metric ``name``); ``descending`` as
    given. Versions that lack a sorted metric come last in both directions; ties are broken
    by the version, highest first."""

    key: str
    name: str | None
    descending: bool


def _bad(expr: str, why: str) -> UserError:
    shown = expr if len(expr) <= 80 else expr[:77] + "..."
    return UserError(f"invalid --where {shown!r}: {why}; write {FORM}")


def parse_filter(expr: str) -> Filter:
    """One ``--where`` expression; anything else is exit 1 with the accepted form."""
    if not isinstance(expr, str):
        raise UserError(f"invalid --where {expr!r}; write {FORM}")
    m = _EXPR.match(expr)
    if m is None:
        raise _bad(expr, "it is not KEY OP VALUE")
    key, op, text = m["key"], m["op"], m["value"]
    op = "=" if op == "==" else op
    if text == "":
        raise _bad(expr, "the value is missing")
    if key in ("tag", "state"):
        if op not in ("=", "!="):
            raise _bad(expr, f"{key} compares only with = or !=")
        if key == "state" and text not in STATES:
            raise _bad(expr, f"a state is one of {', '.join(STATES)}")
        return Filter(key, None, op, text)
    if key == "version":
        try:
            return Filter("version", None, op, parse_version(text).text_key())
        except UserError:
            raise _bad(expr, "the value is not a version MAJOR.MINOR.PATCH[-PRERELEASE]") from None
    if key == "created":
        return Filter("created", None, op, _instant(expr, text))
    if key.startswith("param."):
        name = key[len("param."):]
        if not _NAME.match(name):
            raise _bad(expr, "param. must be followed by a parameter name")
        quoted = len(text) >= 2 and text[0] == text[-1] == "'"
        value = text[1:-1] if quoted else param_value(text)  # 'adam' as "adam"
        if isinstance(value, int) and not isinstance(value, bool):
            value = double(value)
        if isinstance(value, (dict, list)):
            raise _bad(expr, "a parameter compares with a number, a string, true, false or null")
        if op not in ("=", "!=") and (value is None or isinstance(value, bool)):
            raise _bad(expr, f"{text} compares only with = or !=")
        return Filter("param", name, op, value)
    name = key[len("metric."):] if key.startswith("metric.") else key
    if not _NAME.match(name):
        raise _bad(expr, "the key is not a metric name")
    number = float(text) if NUMBER.fullmatch(text) else math.nan  # as mvc add reads a metric
    if not math.isfinite(number):  # also 1e999
        raise _bad(expr, f"metric {name!r} compares with a finite number in ASCII digits (at most about 1.8e308), not {text[:40]!r}")
    return Filter("metric", name, op, number)


def double(value: int | float) -> float:
    """A stored or given number as the 64-bit float it compares as (see Filter)."""
    try:
        return float(value)
    except OverflowError:  # an integer beyond a float's range
        return math.inf if value > 0 else -math.inf


def _instant(expr: str, text: str) -> str:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _bad(expr, "created compares with an ISO 8601 date or date and time, e.g. 2026-11-27 or "
                         "2026-11-27T19:58:14Z") from None
    try:
        when = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+14:00 lies before the first UTC instant, and so on
        when = datetime.min if when.utcoffset() > timedelta(0) else datetime.max  # no version lies beyond
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_filters(exprs: list[str] | tuple[str, ...] | None) -> list[Filter]:
    return [parse_filter(e) for e in exprs or ()]


def parse_sort(key: str | None, reverse: bool, lower_better: Callable[[str], bool]) -> Sort:
    """``--sort KEY`` and ``--reverse``: ``version`` and ``created`` newest first, a metric
    best first (ascending when ``lower_better(name)``); ``reverse`` turns the order round."""
    key = "version" if key is None else key
    if key in ("version", "created"):
        return Sort(key, None, not reverse)
    name = key[len("metric."):] if key.startswith("metric.") else key
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserError(f"invalid --sort {key[:80]!r}; use {SORT_FORM}")
    return Sort("metric", name, lower_better(name) == reverse)


def check_sort_metric(registry, model: str, name: str) -> None:
    """``--sort NAME`` of a metric that no version of ``model`` has is exit 1 naming the
    metrics it has (one that some versions lack is fine). Two one-row queries; the full
    listing is read only to name the metrics in the error."""
    if _some_version_has(registry, model, Filter("metric", name, ">=", 0.0)):
        return
    _no_such(registry.versions(model), model, "metric", name, f"to sort by; or sort by {SORT_FORM}")


def check_filter_names(registry, model: str, filters: list[Filter]) -> None:
    """For a ``--where`` that matched nothing: a metric or parameter that no version of
    ``model`` has is exit 1 naming those it has (a misspelt name, not an empty answer)."""
    named = [f for f in filters if f.field in ("metric", "param") and not _some_version_has(registry, model, f)]
    if not named:
        return
    rows = registry.versions(model)  # read whole only now: to word the error (or a list-valued param)
    for f in named:
        if not any(f.name in (r.metrics if f.field == "metric" else r.params) for r in rows):
            key = f.name if f.field == "metric" else f"param.{f.name}"
            _no_such(rows, model, "parameter" if f.field == "param" else "metric", f.name,
                     f"to compare in --where '{key} {f.op} ...'")


# One-row queries that together match every version holding a number, a string, true, false or
# null under a name (a version that lacks it never matches): a handful of indexed lookups
# instead of reading 100,000 versions when the name is there.
_PROBES = {"metric": ((">=", 0.0), ("<", 0.0)),
           "param": ((">=", 0.0), ("<", 0.0), ("!=", "\ufffe"), ("=", "\ufffe"), ("=", True), ("=", False), ("=", None))}


def _some_version_has(registry, model: str, f: Filter) -> bool:
    first = Sort("version", None, True)
    return any(registry.find_versions(model, [Filter(f.field, f.name, op, value)], first, 1)
               for op, value in _PROBES[f.field])


def _no_such(rows, model: str, kind: str, name: str, use: str) -> None:
    import difflib

    known = sorted({k for r in rows for k in (r.metrics if kind == "metric" else r.params)})
    hint = ""
    if kind == "metric" and f"metric.{name}" in known:  # ls reads metric.NAME as NAME
        hint = f" (a metric called metric.{name} is written metric.metric.{name})"
    if len(known) > 12:  # one line, however many it has: the closest first
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        known = close + [k for k in known if k not in close][:12 - len(close)] + [f"and {len(known) - 12} more"]
    have = f"its {kind}s: {', '.join(known)}" if known else \
        f"it has no {kind}s (mvc add --{'metric' if kind == 'metric' else 'param'} K=V)"
    raise NotFoundError(f"no version of model {model!r} has a {kind} {name!r} {use}; {have}{hint}")


LIMIT_MAX = 2**63 - 1  # a LIMIT both SQLite and PostgreSQL (bigint) take


def check_limit(limit: int | None) -> int | None:
    """At least 1; a limit beyond what a registry's SQL takes is no limit at all."""
    if limit is not None and limit < 1:
        raise UserError(f"{option('limit')} must be at least 1")
    return None if limit is None or limit > LIMIT_MAX else limit


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a listing builds its rows (100,000 versions:
    tuples, summaries, dicts, none of them in a cycle). Its full collections, set off by the
    growing number of objects, would walk every row built so far again and again (measured:
    the to_dict of 100,000 summaries 0.2 s with it, 0.03 s without)."""
    import gc

    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _json_type(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "other"


def holds(f: Filter, row, state: str, tags: set[str]) -> bool:
    """Whether version ``row`` (a VersionRow, with its derived ``state`` and its ``tags``)
    meets ``f``, by the rules of Filter: what a backend's SQL must agree with."""
    test = _COMPARE[f.op]
    if f.field in ("metric", "param"):
        values = row.metrics if f.field == "metric" else row.params
        if f.name not in values:
            return False
        value = values[f.name]
        if f.field == "metric" or not (f.value is None or isinstance(f.value, bool)):
            same = _json_type(value) == _json_type(f.value)
            return same and test(double(value) if same and isinstance(value, int) else value, f.value)
        return value is f.value if f.op == "=" else value is not f.value  # true, false, null
    if f.field == "tag":
        return (f.value in tags) == (f.op == "=")
    if f.field == "state":
        return test(state, f.value)
    if f.field == "version":
        return test(parse_version(row.version).text_key(), f.value)
    return test(row.created_at, f.value)


def select(rows: list, filters: list[Filter], sort: Sort, limit: int | None,
           state: Callable[[Any], str], tags: Callable[[Any], set[str]]) -> list:
    """``find_versions`` over rows in memory: the reference the SQL is tested against, and
    the fallback of a backend that has no query of its own."""
    kept = [r for r in rows if all(holds(f, r, state(r), tags(r)) for f in filters)]
    kept.sort(key=lambda r: parse_version(r.version).text_key(), reverse=True)  # ties: highest first
    if sort.key == "version":
        kept.sort(key=lambda r: parse_version(r.version).text_key(), reverse=sort.descending)
    elif sort.key == "created":
        kept.sort(key=lambda r: (r.created_at, r.id), reverse=sort.descending)
    else:
        having = [r for r in kept if _json_type(r.metrics.get(sort.name)) == "number"]
        lacking = [r for r in kept if _json_type(r.metrics.get(sort.name)) != "number"]
        having.sort(key=lambda r: double(r.metrics[sort.name]), reverse=sort.descending)
        kept = having + lacking
    return kept if limit is None else kept[:limit]
