"""Delete objects that no version needs (archived versions count; so do the manifests and
files of directory artifacts and data stored with --store-data). Objects younger than
gc.grace_seconds (default 600) are kept, as a command may be about to use them. Needs the
admin role."""

from __future__ import annotations

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, human_size, say


def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Only print what would be deleted.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    result = open_repo().gc(dry_run=dry_run)

    def render(r) -> None:
        verb = "Would free" if r.dry_run else "Freed"
        say(f"{verb} {r.objects} object(s), {human_size(r.bytes)}")
        if r.kept_recent:
            say(f"kept {r.kept_recent} unreferenced object(s) younger than the grace period")

    emit(result, json_out, render)
