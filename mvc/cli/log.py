"""Show the history of versions, newest first, like git log."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import console, emit, fmt_value


def log(
    name: Annotated[Optional[str], typer.Argument(help="A model name (default: every model).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="Show at most N versions.")] = None,
    channel: Annotated[Optional[str], typer.Option(
        "--channel", "-c", help="Show this channel's history (every promote, rollback, canary step).")] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    entries = open_repo().log(name, limit, channel=channel)
    if channel is not None:
        emit(entries, json_out, _render_channel)
        return

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


def _render_channel(moves) -> None:
    out = console()
    for m in moves:
        canary = f" canary {m.canary['version']} {m.canary['percent']}%" if m.canary else ""
        change = f"{m.previous or '-'} -> {m.version}" if m.previous != m.version else (m.version or "-")
        out.print(f"[yellow]{m.seq}[/yellow] {m.ts} {m.action} {change}{canary} by {m.user}"
                  + (f": {m.message}" if m.message else ""), highlight=False)
