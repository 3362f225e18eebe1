"""Show everything about one version: digest, state, tags, metrics, parameters,
environment, git, lineage and files."""

from __future__ import annotations

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import console, emit, fmt_value, human_size


def show(
    ref: Annotated[str, typer.Argument(help="NAME, NAME@VERSION, NAME@TAG, NAME@CHANNEL or sha256:PREFIX.")],
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    info = open_repo().show(ref)

    def render(v) -> None:
        from rich.table import Table

        out = console()
        table = Table(box=None, show_header=False)
        table.add_column(style="bold")
        table.add_column()
        rows = [
            ("ref", v.ref), ("digest", v.digest), ("kind", v.kind),
            ("size", f"{human_size(v.size)} ({v.size} bytes)"), ("state", v.state),
            ("tags", ", ".join(v.tags) or "-"), ("channels", ", ".join(v.channels) or "-"),
            ("created", f"{v.created_at} by {v.created_by}"), ("message", v.message or "-"),
        ]
        for section in ("metrics", "params"):
            for k, x in getattr(v, section).items():
                rows.append((f"{section[:-1]} {k}", fmt_value(x)))
        for k in ("commit", "branch", "dirty", "remote"):
            if k in v.git:
                rows.append((f"git {k}", fmt_value(v.git[k])))
        for k in ("mvc_version", "python", "platform", "user", "host"):
            if k in v.env:
                rows.append((f"env {k}", fmt_value(v.env[k])))
        for item in v.lineage["data"]:
            rows.append(("data", f"{item['path']} ({item['digest'][:19]}…)"))
        for item in v.lineage["code"]:
            rows.append(("code", f"{item['path']} ({item['digest'][:19]}…)"))
        for parent in v.lineage["parents"]:
            rows.append(("from", parent))
        for k, x in rows:
            table.add_row(k, x, )
        out.print(table)
        if v.kind == "directory":
            files = Table(box=None, header_style="bold")
            for col in ("path", "size", "digest"):
                files.add_column(col)
            for e in v.files:
                files.add_row(e["path"], str(e["size"]), e.get("digest", "-> " + e.get("target", ""))[:19])
            out.print(files)

    emit(info, json_out, render)
