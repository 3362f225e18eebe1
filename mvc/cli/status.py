"""Show pointer files, unpushed versions, registry state.

Like git status and dvc status: each pointer file (PATH.mvc) whose work file is missing,
modified (differs from the pointer) or ok; the versions whose objects the default remote
lacks (unpushed); the registry's backend and URL, the default remote, and whether access is
open (no grants) or locked down. Work files are compared through the stat cache, hashed only
when their size or times changed. Exit 0 whatever the state; scripts read --json.

EXAMPLES

    mvc status
    mvc status .
    mvc status --json
"""

from pathlib import Path
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, say


def _render(r) -> None:
    from mvc.cli.output import table

    if r.pointers:
        table(["state", "pointer", "version"],
              [[p.state, p.path, f"{p.model}@{p.version}" if p.model else "-"] for p in r.pointers])
        for p in r.pointers:
            if p.reason:
                say(p.reason)
    else:
        say("No pointer files (mvc add --git writes them)")
    if r.remote is None:
        say("No default remote: nothing is pushed anywhere (add one with 'mvc remote add NAME URL')")
    elif r.remote.get("error"):
        say(f"Remote {r.remote['name']} cannot be used, so what it lacks is unknown: {r.remote['error']}")
    elif r.unpushed:
        say(f"Not on remote {r.remote['name']} ({len(r.unpushed)}): {', '.join(r.unpushed)} (mvc push)")
    else:
        say(f"Every version is on remote {r.remote['name']} ({r.remote['url']})")
    if r.registry["state"] == "none":
        say(f"Registry: none here yet ({r.registry['url']}): the versions the pointer files name "
            "are a teammate's; 'mvc init' makes one here (once any objects checkout or pull brought into "
            ".mvc/objects are moved aside), or set registry.url to a shared one")
        return
    if r.registry["state"] == "damaged":
        say(f"Registry: {r.registry['url']} does not open: {r.registry['error']}")
        return
    if r.registry["state"] == "missing":
        say(f"Registry: {r.registry['url']} is missing or no file; restore it from a backup, or fix "
            "registry.url ('mvc fsck' says more)")
        return
    how = ("open (no grants: everyone acts as admin)" if r.access != "locked"
           else "locked down (the server's roles decide)" if r.registry["backend"] == "postgresql"
           else "locked down (grants exist)")
    say(f"Registry: {r.registry['backend']} {r.registry['url']}; access {how}")


def status(
    paths: Annotated[Optional[list[Path]], typer.Argument(
        metavar="PATH...",
        help="Pointer files, the files they describe, or folders to look in (default: the whole "
             "repository).")] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    emit(open_repo().status(paths or []), json_out, _render)
