"""JSON text as ``json.dumps(data, indent=2, ensure_ascii=False)`` writes it, byte for byte,
but fast for the big documents: ``mvc ls NAME --json`` of 100,000 versions (about 30 MB) and
``mvc lineage --json`` of 18,600 nodes. json's indented writer is pure Python and walks every
value; here json's C writer encodes one key's values (a column) in one call and a template
puts each record together. Anything these writers do not handle gives None, and the caller
(cli/output.py's emit_json) falls back to json.dumps."""

import json
from itertools import chain, islice
from json.encoder import encode_basestring as _quote  # json's own (C) quoting, ensure_ascii=False
from typing import Any, Iterator

_SCALARS = {str, int, float, bool, type(None)}
# json's C writer: with a newline between items, which json writes as \\n inside a string
_ONE_A_LINE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=("\n", ": "))
_NESTED_DICTS = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",\n      ", ": "))


def _encoded(values: list) -> list[str] | None:
    """Each of ``values`` as json.dumps writes it, in one call of json's C writer, when all
    are str, int, float, bool or None (exactly those types), else None."""
    if not set(map(type, values)) <= _SCALARS:
        return None
    return _ONE_A_LINE.encode(values)[1:-1].split("\n") if values else []


def _column(values: list) -> tuple[str, list] | None:
    """How json.dumps(indent=2) writes ``values``, one key's values in records of a top-level
    list, each a scalar, a list of scalars or a dict of str to scalars: a slot of the records'
    template (holding ``%s``) and each value's text for it; None for other values. Texts that
    need no escaping go in as they are (json escapes only a quote, a backslash and control
    characters, so the quoted join of them is two longer exactly when none needs it)."""
    kinds = set(map(type, values))
    if kinds == {str}:
        joined = "".join(values)
        if len(_quote(joined)) == len(joined) + 2:
            return '"%s"', values
    if kinds <= _SCALARS:
        return "%s", _encoded(values)
    if kinds <= {list, tuple}:
        items = _encoded([x for v in values for x in v])
        if items is None:
            return None
        rest = iter(items)
        return "%s", ["[\n      " + ",\n      ".join(islice(rest, n)) + "\n    ]" if n else "[]"
                      for n in map(len, values)]
    if kinds == {dict} and set(map(type, chain.from_iterable(values))) <= {str} \
            and set(map(type, chain.from_iterable(map(dict.values, values)))) <= _SCALARS:
        # all in one call: between two dicts ",\n      {", inside one ",\n      " and a key's quote
        parts = _NESTED_DICTS.encode(values)[2:-2].split("},\n      {")
        if all(values):
            return "{\n      %s\n    }", parts
        return "%s", ["{\n      " + p + "\n    }" if p else "{}" for p in parts]
    return None


def _template(keys: tuple, columns: list[list]) -> tuple[str, Iterator[tuple]] | None:
    """Records given as columns (the values of each of ``keys``, at least one): the template
    of each as json.dumps(indent=2) writes it as an element of a top-level list, and the texts
    that fill it, record by record; else None (see _column). json's C writer encodes each
    column in one call (a non-finite number raises ValueError here, before any is written)."""
    if not {type(k) for k in keys} <= {str}:
        return None
    slots, texts = [], []
    for values in columns:
        column = _column(values)
        if column is None:
            return None
        slots.append(column[0])
        texts.append(column[1])
    template = "  {\n" + ",\n".join("    " + _quote(k).replace("%", "%%") + ": " + slot
                                     for k, slot in zip(keys, slots)) + "\n  }"
    return template, zip(*texts)


def _texts(keys: tuple, columns: list[list], count: int) -> list[str] | None:
    """Each of ``count`` records, given as columns, as _template writes it, else None."""
    if not keys:
        return ["  {}"] * count
    made = _template(keys, columns)
    return None if made is None else [made[0] % values for values in made[1]]


def _records(data: list) -> list[str] | None:
    """Each dict of ``data`` as json.dumps(indent=2) writes it as an element of a top-level
    list, each value a scalar, a list of scalars or a dict of scalars, else None. Records
    with the same keys in the same order are written together (_texts)."""
    if {type(r) for r in data} != {dict}:
        return None
    groups: dict[tuple, list[int]] = {}
    if len(set(map(tuple, data))) == 1:  # the usual case, without a step per record
        groups[tuple(data[0])] = []
    else:
        for at, r in enumerate(data):
            groups.setdefault(tuple(r), []).append(at)
    out = [""] * len(data)
    for keys, where in groups.items():
        rows = data if len(groups) == 1 else [data[at] for at in where]
        texts = _texts(keys, [[r[k] for r in rows] for k in keys], len(rows))
        if texts is None or len(groups) == 1:
            return texts
        for at, text in zip(where, texts):
            out[at] = text
    return out


def _document(texts: list[str]) -> str:
    texts[0] = "[\n" + texts[0]  # one join: 30 MB of text built once
    texts[-1] += "\n]"
    return ",\n".join(texts)


def columns_json(columns: dict[str, list]) -> str | None:
    """``json.dumps([dict(zip(columns, values)) for values in zip(*columns.values())],
    indent=2, ensure_ascii=False)`` byte for byte: a list of records given as columns
    (``Result.json_columns``: ``mvc ls NAME --json`` without a dict per version), or None
    when records_json would give None. A non-finite number raises ValueError."""
    parts = columns_parts(columns)
    return None if parts is None else "".join(parts)


def columns_parts(columns: dict[str, list], batch: int = 4096) -> Iterator[str] | None:
    """columns_json's text in parts, each made when the one before has been taken: ``batch``
    records at a time, so that 100,000 records (30 MB) are never held at once (memory the
    system must map afresh costs more than writing it). None and ValueError as columns_json,
    before any part."""
    if not columns or not next(iter(columns.values())):
        return None
    made = _template(tuple(columns), list(columns.values()))
    return None if made is None else _batches(*made, batch)


def _batches(template: str, rows: Iterator[tuple], batch: int) -> Iterator[str]:
    yield "[\n"
    between = ""
    while chunk := [template % values for values in islice(rows, batch)]:
        yield between
        yield ",\n".join(chunk)
        between = ",\n"
    yield "\n]"


def records_json(data: Any) -> str | None:
    """``json.dumps(data, indent=2, ensure_ascii=False)`` byte for byte, fast, for the big
    documents: a list of records (``mvc ls NAME --json`` of 100,000 versions), or a dict of
    scalars, lists of scalars and lists of records (``mvc lineage --json`` of 18,600 nodes).
    json's indented writer is pure Python and walks every value; see _records. None for
    anything else, which json.dumps then writes. A non-finite number raises ValueError, as
    json.dumps(allow_nan=False) does. (json writes a newline inside a string as \\n, so
    every newline here is the layout's, and indenting a part is replacing its newlines.)"""
    if type(data) is list and data:
        texts = _records(data)
        return None if texts is None else _document(texts)
    if type(data) is not dict or not data:
        return None
    parts = []
    for k, v in data.items():
        if type(k) is not str:
            return None
        text = _encoded([v])
        if text is not None:
            text = text[0]
        elif type(v) in (list, tuple) and v:
            items = _encoded(v)
            if items is None:
                texts = _records(v)
                if texts is None:
                    return None
                text = ("[\n" + ",\n".join(texts) + "\n]").replace("\n", "\n  ")
            else:
                text = "[\n    " + ",\n    ".join(items) + "\n  ]"
        elif type(v) in (list, tuple):
            text = "[]"
        else:
            return None
        parts.append("  " + _quote(k) + ": " + text)
    return "{\n" + ",\n".join(parts) + "\n}"


def listing_json(items: list) -> Iterator[str] | None:
    """The JSON of a list of results of one type that gives their to_dict() as columns
    (``json_columns``: 100,000 versions of ``mvc ls NAME`` without a dict each), in parts
    (columns_parts), else None (also for a non-finite number, which emit_json then writes
    as null)."""
    kinds = {type(r) for r in items}
    columns = getattr(kinds.pop(), "json_columns", None) if len(kinds) == 1 else None
    try:
        return None if columns is None else columns_parts(columns(items))
    except ValueError:
        return None
