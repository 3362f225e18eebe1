"""Tag a version, delete a tag or list tags.

mvc tag REF LABEL puts LABEL on a version (--force moves it from another version), mvc tag
--delete NAME LABEL deletes it, and mvc tag NAME lists the model's tags. NAME@LABEL then names
the version wherever a REF is taken.

EXAMPLES

    mvc tag resnet@0.2.0 best -m "highest accuracy so far"
    mvc tag resnet
    mvc tag --delete resnet best
"""

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption, MessageOption
from mvc.cli.output import emit, nothing, say, table


def tag(
    target: Annotated[str, typer.Argument(metavar="REF", help="REF to tag, or NAME to list or delete tags of.")],
    label: Annotated[Optional[str], typer.Argument(metavar="LABEL", help="The tag, e.g. best.")] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Move the tag if it is on another version.")] = False,
    delete: Annotated[bool, typer.Option("--delete", "-d", help="Delete tag LABEL of model NAME.")] = False,
    message: MessageOption = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo
    from mvc.core.errors import UsageError

    if delete and force:
        raise UsageError("--delete and --force exclude each other: --force moves a tag, --delete removes it")
    if label is None and message is not None and not delete:
        raise UsageError("--message goes with a change: mvc tag REF LABEL or mvc tag --delete NAME LABEL")
    name, at, _ = target.partition("@")
    if delete and at:  # a tag belongs to the model, whichever version it is on
        raise UsageError(f"mvc tag --delete takes the model NAME, not a ref: mvc tag --delete {name} "
                         f"{label or 'LABEL'}")
    if label is None and not delete and (at or target.startswith("sha256:")):
        raise UsageError(f"which tag? mvc tag {target} LABEL tags that version "
                         f"(mvc tag {name if at else 'NAME'} lists a model's tags)")
    repo = open_repo()
    if delete:
        if label is None:
            raise UsageError("mvc tag --delete needs NAME and LABEL")
        result = repo.untag(target, label, message=message)
        emit(result, json_out, lambda r: say(f"Deleted tag {r.tag} (was on {r.ref})"))
        return
    if label is None:
        if force:
            raise UsageError("--force goes with mvc tag REF LABEL")
        rows = repo.tags(target)

        def render(items) -> None:
            if not items:
                nothing(["tag", "ref"], f"{target} has no tags")
                return
            table(["tag", "ref"], [[t.tag, t.ref] for t in items])

        emit(rows, json_out, render)
        return
    result = repo.tag(target, label, force=force, message=message)
    messages = {
        "created": "Tagged {ref} as {tag}",
        "moved": "Moved tag {tag} to {ref}",
        "unchanged": "{ref} is tagged {tag} already",
    }
    emit(result, json_out, lambda r: say(messages[r.action].format(ref=r.ref, tag=r.tag)))
