"""Delete objects that no version needs.

Archived versions count as references; so do the manifests and files of directory artifacts
and data stored with --store-data. Objects younger than the grace period (--grace, else
gc.grace_seconds, default 600) are kept, as a command may be about to use them. Needs the
admin role.

EXAMPLES

    mvc gc --dry-run
    mvc gc
    mvc gc --grace 0
"""

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, human_size, say


def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only print what would be deleted.")
    ] = False,
    grace: Annotated[Optional[float], typer.Option(
        "--grace", metavar="SECONDS", min=0,
        help="Keep unreferenced objects younger than SECONDS (default: config gc.grace_seconds, "
             "600); 0 deletes them all now, like git gc --prune=now.")] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    result = open_repo().gc(dry_run=dry_run, grace=grace)

    def render(r) -> None:
        verb = "Would free" if r.dry_run else "Freed"
        say(f"{verb} {r.objects} object(s), {human_size(r.bytes)}")
        if r.kept_recent:
            say(f"kept {r.kept_recent} unreferenced object(s) younger than the grace period "
                f"({r.grace_seconds:g} s; --grace 0 deletes them now)")

    emit(result, json_out, render)
