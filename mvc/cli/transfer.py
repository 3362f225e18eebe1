"""mvc push and mvc pull: copy objects to and from a remote, verified by digest."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import Progress, emit, human_size, say

RemoteOption = Annotated[
    Optional[str], typer.Option("--remote", "-r", help="The remote to use (default: core.remote).")
]


def _render(verb: str):
    def render(r) -> None:
        say(f"{verb} {r.transferred} objects ({human_size(r.bytes)}) "
            f"{'to' if verb == 'Pushed' else 'from'} {r.remote}; {r.skipped} already there")
    return render


def push(
    refs: Annotated[Optional[list[str]], typer.Argument(help="Versions to push (default: every version).")] = None,
    remote: RemoteOption = None,
    pointers: Annotated[
        bool, typer.Option("--pointers", help="Push what the pointer files tracked by git need (the pre-push hook uses this).")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Copy the objects of versions to a remote; objects already there are skipped."""
    from mvc.cli.common import open_repo

    with Progress("pushing") as progress:
        result = open_repo().push(refs or [], remote=remote, pointers=pointers, progress=progress)
    emit(result, json_out, _render("Pushed"))


def pull(
    refs: Annotated[list[str], typer.Argument(help="Versions to pull, e.g. resnet@1.2.0.")],
    remote: RemoteOption = None,
    json_out: JsonOption = False,
) -> None:
    """Copy the objects of versions from a remote into the local store, verified."""
    from mvc.cli.common import open_repo

    with Progress("pulling") as progress:
        result = open_repo().pull(refs, remote=remote, progress=progress)
    emit(result, json_out, _render("Pulled"))
