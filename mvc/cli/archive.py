"""Archive a version, or restore it.

A version that a channel serves cannot be archived; an archived version cannot be promoted.
Its objects are kept (gc counts archived versions as references); --undo restores it.

EXAMPLES

    mvc archive resnet@0.1.0 -m "superseded by 0.2.0"
    mvc archive resnet@0.1.0 --undo
"""

from typing import Annotated

import typer

from mvc.cli.common import JsonOption, MessageOption
from mvc.cli.output import emit, say


def archive(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The version: NAME@VERSION, NAME@TAG, sha256:PREFIX, ...")],
    undo: Annotated[bool, typer.Option("--undo", help="Restore an archived version.")] = False,
    message: MessageOption = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    def render(r) -> None:
        if not r.changed:
            say(f"{r.ref} is archived already; nothing to do" if r.archived else f"{r.ref} is not archived; nothing to do")
        else:
            say(f"{'Archived' if r.archived else 'Restored'} {r.ref}")

    emit(open_repo().archive(ref, undo=undo, message=message), json_out, render)
