"""Print what the repository holds and what storing it takes.

Models, versions (archived included), objects, the bytes the versions hold (logical: the sum
of their sizes), the bytes the object store takes (stored) and their ratio, logical / stored,
which is above 1 when versions share objects, in total and per model. A large file is stored as
chunks, so a fine-tune stores only the chunks it changed. With --remote, the same for the
default remote, counting the versions whose objects are all there.

EXAMPLES

    mvc stats
    mvc stats --remote
    mvc stats --json
"""

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, human_size

ROWS = ("models", "versions", "objects", "logical", "stored", "ratio")
MODEL_ROWS = ("versions", "objects", "logical", "stored", "ratio")


def _shown(stats, row: str) -> str:
    value = stats[row] if isinstance(stats, dict) else getattr(stats, row)
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
        from mvc.cli.output import fields, line, piped, table

        if r.remote is None:
            fields([(row, _shown(r, row)) for row in ROWS])
        else:
            table(["count", "local", f"remote {r.remote.name}"],
                  [[row, _shown(r, row), _shown(r.remote, row)] for row in ROWS])
        # per model: one "model" record a line in a pipe (the remote's figures after the local
        # ones with --remote), a table on a terminal
        headers = ["model", *MODEL_ROWS]
        rows = []
        for name, m in r.by_model.items():
            row = [name, *(_shown(m, k) for k in MODEL_ROWS)]
            if r.remote is not None:
                there = r.remote.by_model.get(name)
                row += [_shown(there, k) if there else "-" for k in MODEL_ROWS]
            rows.append(row)
        if r.remote is not None:
            headers += [f"remote {k}" for k in MODEL_ROWS]
        if piped():
            for row in rows:
                line("model", *row)
        elif rows:
            table(headers, rows, title="by model")

    emit(result, json_out, render)
