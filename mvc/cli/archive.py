"""Archive a version (or restore it with --undo). A version a channel serves cannot be
archived; an archived version cannot be promoted. Its objects are kept."""

from __future__ import annotations

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, say


def archive(
    ref: Annotated[str, typer.Argument(help="The version: NAME@VERSION, NAME@TAG, sha256:PREFIX, ...")],
    undo: Annotated[bool, typer.Option("--undo", help="Restore an archived version.")] = False,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    def render(r) -> None:
        if not r.changed:
            say(f"{r.ref} is {'archived' if r.archived else 'not archived'} already; nothing to do")
        else:
            say(f"{'Archived' if r.archived else 'Restored'} {r.ref}")

    emit(open_repo().archive(ref, undo=undo), json_out, render)
