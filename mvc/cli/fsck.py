"""Check the repository's consistency, and repair it.

Checks the registry, the object store, temporary files, the lineage file, the audit chain and
the deploy folders against each other. --repair rebuilds what can be derived (the lineage file,
deploy pointers) and removes files left by interrupted commands; it never deletes an object
that a version needs. Exits 3 when a problem is left. Work files are not the repository:
mvc status compares them with their pointer files.

EXAMPLES

    mvc fsck
    mvc fsck --repair
"""

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import Progress, say, table, warn
from mvc.cli.verify import finish


def fsck(
    repair: Annotated[
        bool, typer.Option("--repair", help="Rebuild what can be derived and remove stray temporary files.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    repo = open_repo()
    with Progress("checking objects") as progress:
        report = repo.fsck(repair=repair, progress=progress)

    def render(r) -> None:
        for note in r.notes:
            warn(note)
        if r.problems:
            table(["state", "kind", "message"],
                  [["repaired" if p.repaired else "problem", p.kind, p.message] for p in r.problems])
        if r.ok:
            say(f"checked {r.versions} version(s), {r.objects} object(s), {r.events} event(s): "
                + ("consistent" if not r.problems else "repaired")
                + " (the repository; work files against their pointer files: mvc status)")

    left = [p for p in report.problems if not p.repaired]
    # a fix tried and refused (a channel's role): exit 4 when that is all that is left; damage
    # left beside it is still exit 3
    denied = bool(repair and left and all(p.fixable for p in left))
    if denied:
        left.sort(key=lambda p: not p.fixable)
    message = f"{len(left)} problem(s) left: " + "; ".join(p.message for p in left[:3])
    fixable = sorted({p.kind for p in left if p.fixable})
    others = sorted({p.kind for p in left if not p.fixable} - set(fixable))
    if fixable and not repair:  # said of what repair fixes, never of an audit chain it cannot
        message += (f" ('mvc fsck --repair' fixes the {', '.join(fixable)} problem(s), not the "
                    f"{', '.join(others)} one(s))" if others else " (run 'mvc fsck --repair')")
    finish(report, report.ok, message, json_out, render, denied)
