"""Compare two versions, or three or more side by side.

With two refs, shows how version B differs from version A: metrics (better or worse, by each
metric's direction), parameters, files, tensors inside .safetensors and .npz files, the chunks
and bytes the two share in the store, their similarity and a recommendation: RECOMMEND_A,
RECOMMEND_B, SIMILAR_PERFORMANCE or INSUFFICIENT_DATA (by the primary metric,
compare.primary_metric).

With three or more refs the first is the baseline: each metric and each param that differs in a
table, one column a version, the best value of each metric marked with *, and a
recommendation: RECOMMEND the version whose primary metric is best when it beats the baseline
by more than compare.threshold, else SIMILAR_PERFORMANCE (INSUFFICIENT_DATA when the baseline
or every other version lacks the primary metric).

EXAMPLES

    mvc diff resnet@0.1.0 resnet@0.2.0
    mvc diff resnet@production resnet@staging --json
    mvc diff resnet@0.1.0 resnet@0.2.0 resnet@0.3.0
"""

import json
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import console, emit, fields, fmt_value, line, one_line, piped, table

_REF_HELP = "NAME, NAME@VERSION, NAME@TAG, NAME@CHANNEL or sha256:PREFIX."


def diff(
    ref_a: Annotated[str, typer.Argument(metavar="REF_A", help="The version to compare from (A). " + _REF_HELP)],
    ref_b: Annotated[str, typer.Argument(metavar="REF_B", help="The version to compare to (B). " + _REF_HELP)],
    more: Annotated[Optional[list[str]], typer.Argument(
        metavar="[REF]...", help="More versions: compare them all side by side, REF_A the baseline.")] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    refs = [ref_a, ref_b, *(more or ())]
    emit(open_repo().diff(*refs), json_out, _render if len(refs) == 2 else _render_many)


def _render_many(d) -> None:
    """One column a version, the baseline first; on a terminal the best value of each metric
    is marked ``*`` (and green); in a pipe a last column names the best version instead."""
    pipe = piped()
    headers = ["metric", *d.versions] + (["best"] if pipe else [])
    rows = []
    for name, values in d.metrics.items():
        best = d.best.get(name)
        cells = [values.get(ref, "") if pipe or ref != best else (f"{fmt_value(values[ref])} *", "bold green")
                 for ref in d.versions]
        rows.append([name, *cells] + ([best] if pipe else []))
    if rows:
        table(headers, rows, title="metrics")
    if d.params:
        table(["param", *d.versions], [[k, *(one_line(_param(v, ref)) for ref in d.versions)]
                                       for k, v in d.params.items()],
              title="params that differ")
    rec = d.recommendation
    fields([("baseline", d.versions[0]), ("primary metric", d.primary_metric),
            ("recommendation", rec["verdict"]), ("recommended", rec["ref"] or "")])


def _param(values: dict, ref: str) -> str:
    """A param's cell, empty when the version lacks the param."""
    return _shown(values[ref]) if ref in values else ""


def _shown(value) -> str:
    """A param's value: a string that would read as another JSON value (``"true"``, ``"1"``)
    or as an empty cell (``""``, ``"-"``) is shown as JSON, quoted, so that it is not taken
    for that value."""
    if isinstance(value, str):
        if value in ("", "-"):
            return json.dumps(value)
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value, ensure_ascii=False)
    return fmt_value(value)


def _verdict(m: dict) -> tuple[str, str]:
    if m["diff"] == 0:
        return "same", ""
    return ("better", "green") if m["improved"] else ("worse", "red")


def _render(d) -> None:
    """Sections of records, then a summary. In a pipe each record is one line that starts
    with its kind (``metric``, ``param``, ``file``, ``tensor FILE``, ``unreadable``) and
    the summary is NAME<TAB>VALUE lines; on a terminal each section is a table, and the names
    read from inside files (tensors, their dtypes) and the paths are shown on one line each,
    their control characters escaped, so that a hostile name cannot forge a row."""
    sections: list[tuple[list[str], str, list[str], list[list]]] = []
    metrics = [[name, m["a"], m["b"], ("n/a" if m["diff"] is None else f"{m['diff']:+.6g}", _verdict(m)[1]),
                _verdict(m)]
               for name, m in d.metrics.items()]
    metrics += [[name, v, "", "", "only in A"] for name, v in d.metrics_only_a.items()]
    metrics += [[name, "", v, "", "only in B"] for name, v in d.metrics_only_b.items()]
    if metrics:
        sections.append((["metric"], "metrics", ["metric", "A", "B", "B - A", "change"], metrics))
    p = d.params
    params = [[k, one_line(_shown(v["a"])), one_line(_shown(v["b"])), ("changed", "yellow")]
              for k, v in p["changed"].items()]
    params += [[k, one_line(_shown(v)), "", ("removed", "red")] for k, v in p["removed"].items()]
    params += [[k, "", one_line(_shown(v)), ("added", "green")] for k, v in p["added"].items()]
    if params:
        sections.append((["param"], "params", ["param", "A", "B", "change"], params))
    a = d.artifacts
    files = [[one_line(path), (word, style)] for key, word, style in _CHANGES for path in a[key]]
    if files:
        sections.append((["file"], "files", ["path", "change"], files))
    summary: list[tuple[str, object]] = [("unchanged files", a["unchanged"])]
    for path, t in d.tensors.items():
        rows = [[f"({side.upper()} unreadable)", (one_line(why), "red")] for side, why in t["errors"].items()]
        rows += [[one_line(tensor), (word, style)] for key, word, style in _CHANGES for tensor in t[key]]
        for tensor, shapes in t["reshaped"].items():
            sa, sb = shapes["a"], shapes["b"]
            change = f"reshaped {sa['dtype']}{sa['shape']} -> {sb['dtype']}{sb['shape']}"
            rows.append([one_line(tensor), (one_line(change), "yellow")])
        if rows:
            sections.append((["tensor", path], f"tensors in {one_line(path)}", ["tensor", "change"], rows))
        if not t["errors"]:  # a side that could not be read has no tensors to call unchanged
            summary.append(("unchanged tensors", f"{t['unchanged']} in {one_line(path)}"))
    unreadable = [[u["side"].upper(), one_line(u["path"]), (one_line(u["error"]), "red")] for u in d.unreadable
                  if not any(u["path"] in key for key in d.tensors)]
    if unreadable:
        sections.append((["unreadable"], "unreadable", ["side", "path", "error"], unreadable))
    if d.storage and d.storage["b_bytes"]:
        st = d.storage
        summary.append(("shared storage", f"{st['shared_bytes'] / st['b_bytes']:.1%} of B's stored bytes "
                                          f"({st['shared_chunks']} of {st['chunks_b']} chunks)"))
    summary += [
        ("similarity", f"{d.similarity:.3f}"),
        (f"performance delta ({d.primary_metric})",
         "" if d.performance_delta is None else f"{d.performance_delta:+.6g}"),
        ("importance", "" if d.importance is None else f"{d.importance:+.6g}"),
        ("recommendation", d.recommendation),
    ]
    if piped():
        fields([("a", d.a), ("b", d.b)])
        for kind, _, _, rows in sections:
            for row in rows:
                line(*kind, *(c[0] if isinstance(c, tuple) else c for c in row))
    else:
        from rich.text import Text

        console().print(Text(f"{d.a} -> {d.b}", style="bold"))
        for _, title, headers, rows in sections:
            table(headers, rows, title=title)
    fields(summary)


_CHANGES = (("changed", "changed", "yellow"), ("added", "added", "green"), ("removed", "removed", "red"))
