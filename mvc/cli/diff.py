"""Show how version B differs from version A: metrics (better or worse), parameters, files,
tensors inside .safetensors/.npz files, similarity and a recommendation."""

from __future__ import annotations

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import console, emit, fmt_value

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
    from rich.table import Table
    from rich.text import Text

    out = console()
    out.print(Text(f"{d.a} -> {d.b}", style="bold"))

    if d.metrics or d.metrics_only_a or d.metrics_only_b:
        table = Table(title="metrics", title_justify="left", header_style="bold")
        for col in ("metric", "A", "B", "B - A", ""):
            table.add_column(col, justify="right" if col in ("A", "B", "B - A") else "left")
        for name, m in d.metrics.items():
            word, style = _verdict(m)
            diff = f"{m['diff']:+.6g}"
            table.add_row(name, fmt_value(m["a"]), fmt_value(m["b"]), Text(diff, style=style),
                          Text(word, style=style))
        for name, v in d.metrics_only_a.items():
            table.add_row(name, fmt_value(v), "-", "", "only in A")
        for name, v in d.metrics_only_b.items():
            table.add_row(name, "-", fmt_value(v), "", "only in B")
        out.print(table)

    p = d.params
    if p["added"] or p["removed"] or p["changed"]:
        table = Table(title="params", title_justify="left", header_style="bold")
        for col in ("param", "A", "B"):
            table.add_column(col)
        for k, v in p["changed"].items():
            table.add_row(k, fmt_value(v["a"]), fmt_value(v["b"]))
        for k, v in p["removed"].items():
            table.add_row(k, fmt_value(v), Text("(removed)", style="red"))
        for k, v in p["added"].items():
            table.add_row(k, Text("(absent)", style="dim"), fmt_value(v))
        out.print(table)

    a = d.artifacts
    table = Table(title="files", title_justify="left", header_style="bold")
    table.add_column("path")
    table.add_column("change")
    for path in a["changed"]:
        table.add_row(path, Text("changed", style="yellow"))
    for path in a["added"]:
        table.add_row(path, Text("added", style="green"))
    for path in a["removed"]:
        table.add_row(path, Text("removed", style="red"))
    table.caption = f"{a['unchanged']} unchanged"
    out.print(table)

    for path, t in d.tensors.items():
        table = Table(title=f"tensors in {path}", title_justify="left", header_style="bold")
        table.add_column("tensor")
        table.add_column("change")
        for side, why in t["errors"].items():
            table.add_row(f"({side.upper()} unreadable)", Text(why, style="red"))
        for name in t["changed"]:
            table.add_row(name, Text("changed", style="yellow"))
        for name, shapes in t["reshaped"].items():
            sa, sb = shapes["a"], shapes["b"]
            table.add_row(name, Text(f"reshaped {sa['dtype']}{sa['shape']} -> {sb['dtype']}{sb['shape']}",
                                     style="yellow"))
        for name in t["added"]:
            table.add_row(name, Text("added", style="green"))
        for name in t["removed"]:
            table.add_row(name, Text("removed", style="red"))
        table.caption = f"{t['unchanged']} unchanged"
        out.print(table)
    for u in d.unreadable:
        if not any(u["path"] in key for key in d.tensors):
            out.print(Text(f"{u['side'].upper()}: {u['path']} is unreadable: {u['error']}", style="red"))

    delta = "-" if d.performance_delta is None else f"{d.performance_delta:+.6g}"
    importance = "-" if d.importance is None else f"{d.importance:+.6g}"
    out.print(f"similarity {d.similarity:.3f}   performance delta ({d.primary_metric}) {delta}   "
              f"importance {importance}", markup=False)
    style = {"RECOMMEND_B": "bold green", "RECOMMEND_A": "bold red"}.get(d.recommendation, "bold")
    out.print(Text(d.recommendation, style=style))
