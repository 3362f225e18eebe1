"""Print what the repository holds and what storing it takes.

Models, versions (archived included), objects, the bytes the versions hold (logical: the sum
of their sizes), the bytes the object store takes (stored) and their ratio, logical / stored,
which is above 1 when versions share objects. With --remote, the same for the default remote,
counting the versions whose objects are all there.

EXAMPLES

    mvc stats
    mvc stats --remote
    mvc stats --json
"""

from __future__ import annotations

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, human_size

ROWS = ("models", "versions", "objects", "logical", "stored", "ratio")


def _shown(stats, row: str) -> str:
    value = getattr(stats, row)
    if row in ("logical", "stored"):
        return human_size(value)
    if row == "ratio":
        return "-" if value is None else f"{value:.2f}"
    return str(value)


def stats(
    remote: Annotated[bool, typer.Option(
        "--remote", help="Also count what the default remote holds.")] = False,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    result = open_repo().stats(remote=remote)

    def render(r) -> None:
        from mvc.cli.output import fields, table

        if r.remote is None:
            fields([(row, _shown(r, row)) for row in ROWS])
        else:
            table(["count", "local", f"remote {r.remote.name}"],
                  [[row, _shown(r, row), _shown(r.remote, row)] for row in ROWS])

    emit(result, json_out, render)
