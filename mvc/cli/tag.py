"""Tag a version (mvc tag REF LABEL), delete a tag (mvc tag --delete NAME LABEL), or list a
model's tags (mvc tag NAME)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, say, table


def tag(
    target: Annotated[str, typer.Argument(help="REF to tag, or NAME to list or delete tags of.")],
    label: Annotated[Optional[str], typer.Argument(help="The tag, e.g. best.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Move the tag if it is on another version.")] = False,
    delete: Annotated[bool, typer.Option("--delete", "-d", help="Delete tag LABEL of model NAME.")] = False,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo
    from mvc.core.errors import UsageError

    repo = open_repo()
    if delete:
        if label is None:
            raise UsageError("mvc tag --delete needs NAME and LABEL")
        result = repo.untag(target, label)
        emit(result, json_out, lambda r: say(f"Deleted tag {r.tag} (was on {r.ref})"))
        return
    if label is None:
        if force:
            raise UsageError("--force goes with mvc tag REF LABEL")
        rows = repo.tags(target)

        def render(items) -> None:
            if not items:
                say(f"{target} has no tags")
                return
            table(["tag", "ref"], [[t.tag, t.ref] for t in items])

        emit(rows, json_out, render)
        return
    result = repo.tag(target, label, force=force)
    messages = {
        "created": "Tagged {ref} as {tag}",
        "moved": "Moved tag {tag} to {ref}",
        "unchanged": "{ref} is tagged {tag} already",
    }
    emit(result, json_out, lambda r: say(messages[r.action].format(ref=r.ref, tag=r.tag)))
