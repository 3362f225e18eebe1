"""List models, or the versions of one model (newest first)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, key_values, say, short, table


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
        if name is None:
            if not items:
                say("no models yet; add one with 'mvc add PATH --name NAME'")
                return
            channels = list(items[0].channels)
            table(["model", "versions", "latest", *channels],
                  [[m.model, str(m.versions), m.latest, *[m.channels[c] or "-" for c in channels]]
                   for m in items])
        else:
            table(["ref", "digest", "state", "tags", "created", "metrics"],
                  [[v.ref, short(v.digest), v.state, ",".join(v.tags), v.created_at, key_values(v.metrics)]
                   for v in items])

    emit(rows, json_out, render)
