"""List models, or the versions of one model.

Without NAME: each model, its number of versions, the latest and what each channel serves.
With NAME: its versions, newest first, with a short digest, state, tags, time and metrics.

EXAMPLES

    mvc ls
    mvc ls resnet --state production
    mvc ls resnet --json
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption, Words
from mvc.cli.output import emit, key_values, say, short, table


def ls(
    name: Annotated[Optional[str], typer.Argument(metavar="NAME", help="A model name: list its versions.")] = None,
    state: Annotated[
        Optional[str], typer.Option("--state", metavar="STATE",
                                    click_type=Words("development", "staging", "production", "archived"),
                                    help="Only versions in STATE: development, staging, production or archived.")
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
