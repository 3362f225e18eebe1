"""List models, or the versions of one model (newest first)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import console, emit, fmt_value, short


def ls(
    name: Annotated[Optional[str], typer.Argument(help="A model name: list its versions.")] = None,
    state: Annotated[
        Optional[str], typer.Option("--state", metavar="development|staging|production|archived",
                                    help="Only development, staging, production or archived.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    rows = open_repo().ls(name, state)

    def render(items) -> None:
        from rich.table import Table

        if name is None:
            if not items:
                console().print("no models yet; add one with 'mvc add PATH --name NAME'")
                return
            channels = list(items[0].channels)
            table = Table(box=None, header_style="bold")
            for col in ("model", "versions", "latest", *channels):
                table.add_column(col)
            for m in items:
                table.add_row(m.model, str(m.versions), m.latest, *[m.channels[c] or "-" for c in channels])
        else:
            table = Table(box=None, header_style="bold")
            for col in ("ref", "digest", "state", "tags", "created", "metrics"):
                table.add_column(col)
            for v in items:
                metrics = " ".join(f"{k}={fmt_value(x)}" for k, x in v.metrics.items())
                table.add_row(v.ref, short(v.digest), v.state, ",".join(v.tags), v.created_at[:19], metrics)
        console().print(table)

    emit(rows, json_out, render)
