"""Compare two versions: metrics, params, files, tensors.

Shows how version B differs from version A: metrics (better or worse, by each metric's
direction), parameters, files, tensors inside .safetensors and .npz files, the chunks and bytes
the two share in the store, their similarity and a recommendation: RECOMMEND_A, RECOMMEND_B,
SIMILAR_PERFORMANCE or INSUFFICIENT_DATA (by the primary metric, compare.primary_metric).

EXAMPLES

    mvc diff resnet@0.1.0 resnet@0.2.0
    mvc diff resnet@production resnet@staging --json
"""

from __future__ import annotations

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import console, emit, fields, line, piped, table

_REF_HELP = "NAME, NAME@VERSION, NAME@TAG, NAME@CHANNEL or sha256:PREFIX."


def diff(
    ref_a: Annotated[str, typer.Argument(metavar="REF_A", help="The version to compare from (A). " + _REF_HELP)],
    ref_b: Annotated[str, typer.Argument(metavar="REF_B", help="The version to compare to (B). " + _REF_HELP)],
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    emit(open_repo().diff(ref_a, ref_b), json_out, _render)


def _verdict(m: dict) -> tuple[str, str]:
    if m["diff"] == 0:
        return "same", ""
    return ("better", "green") if m["improved"] else ("worse", "red")


def _render(d) -> None:
    """Sections of records, then a summary. In a pipe each record is one line that starts
    with its kind (``metric``, ``param``, ``file``, ``tensor FILE``, ``unreadable``) and
    the summary is NAME<TAB>VALUE lines; on a terminal each section is a table."""
    sections: list[tuple[list[str], str, list[str], list[list]]] = []
    metrics = [[name, m["a"], m["b"], ("n/a" if m["diff"] is None else f"{m['diff']:+.6g}", _verdict(m)[1]),
                _verdict(m)]
               for name, m in d.metrics.items()]
    metrics += [[name, v, "", "", "only in A"] for name, v in d.metrics_only_a.items()]
    metrics += [[name, "", v, "", "only in B"] for name, v in d.metrics_only_b.items()]
    if metrics:
        sections.append((["metric"], "metrics", ["metric", "A", "B", "B - A", "change"], metrics))
    p = d.params
    params = [[k, v["a"], v["b"], ("changed", "yellow")] for k, v in p["changed"].items()]
    params += [[k, v, "", ("removed", "red")] for k, v in p["removed"].items()]
    params += [[k, "", v, ("added", "green")] for k, v in p["added"].items()]
    if params:
        sections.append((["param"], "params", ["param", "A", "B", "change"], params))
    a = d.artifacts
    files = [[path, (word, style)] for key, word, style in _CHANGES for path in a[key]]
    if files:
        sections.append((["file"], "files", ["path", "change"], files))
    summary: list[tuple[str, object]] = [("unchanged files", a["unchanged"])]
    for path, t in d.tensors.items():
        rows = [[f"({side.upper()} unreadable)", (why, "red")] for side, why in t["errors"].items()]
        rows += [[name, (word, style)] for key, word, style in _CHANGES for name in t[key]]
        for name, shapes in t["reshaped"].items():
            sa, sb = shapes["a"], shapes["b"]
            rows.append([name, (f"reshaped {sa['dtype']}{sa['shape']} -> {sb['dtype']}{sb['shape']}", "yellow")])
        if rows:
            sections.append((["tensor", path], f"tensors in {path}", ["tensor", "change"], rows))
        summary.append(("unchanged tensors", f"{t['unchanged']} in {path}"))
    unreadable = [[u["side"].upper(), u["path"], (u["error"], "red")] for u in d.unreadable
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
