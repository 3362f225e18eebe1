"""Show the history of versions, newest first, like git log."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import console, emit, fmt_value


def log(
    name: Annotated[Optional[str], typer.Argument(help="A model name (default: every model).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="Show at most N versions.")] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    entries = open_repo().log(name, limit)

    def render(items) -> None:
        out = console()
        for i, e in enumerate(items):
            if i:
                out.print()
            decorations = [e.state] + [f"tag: {t}" for t in e.tags]
            out.print(f"[yellow]version {e.ref}[/yellow] ({', '.join(decorations)})")
            out.print(f"Digest: {e.digest}", markup=False)
            out.print(f"Author: {e.created_by}", markup=False)
            out.print(f"Date:   {e.created_at}", markup=False)
            if e.message:
                out.print()
                out.print("    " + e.message, markup=False)
            if e.metrics:
                out.print("    " + " ".join(f"{k}={fmt_value(v)}" for k, v in e.metrics.items()), markup=False)

    emit(entries, json_out, render)
