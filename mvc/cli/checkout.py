"""Write a version's files out, verified.

Every byte is checked against its digest while it is written; a different existing file is
never overwritten without --force. With no REF, write out the artifact of every pointer file
(PATH.mvc) under the current directory, pulling missing objects from the default remote (what
a teammate runs after git clone or git pull).

EXAMPLES

    mvc checkout resnet@0.1.0 -o old.safetensors
    mvc checkout resnet@production -o serve.safetensors --link hardlink
    mvc checkout
"""

from pathlib import Path
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption, Words
from mvc.cli.output import Progress, emit, human_size, say


def checkout(
    ref: Annotated[
        Optional[str], typer.Argument(metavar="REF",
                                      help="The version to write out, e.g. resnet@1.2.0 (default: every pointer file here).")
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", metavar="PATH",
                                     help="Where to write it (default: its original name here).")
    ] = None,
    link: Annotated[
        str, typer.Option("--link", metavar="MODE", click_type=Words("copy", "reflink", "hardlink", "symlink"),
                          help="How to place the files: copy (a verified copy, the default), reflink where "
                               "the filesystem supports it, or hardlink or symlink into the store.")
    ] = "copy",
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace an existing different file or directory.")] = False,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    repo = open_repo()
    if ref is None:
        if output is not None:
            from mvc.core.errors import UsageError

            raise UsageError("-o needs a REF; without one, each pointer file's artifact goes beside it")
        with Progress("checking out pointer files") as progress:
            results = repo.checkout_pointers(".", link=link, force=force, progress=progress)

        def render_all(items) -> None:
            written = [r for r in items if r.written]
            for r in written:
                say(f"Checked out {r.ref} to {r.path}")
            say(f"{len(written)} written, {len(items) - len(written)} already up to date")

        emit(results, json_out, render_all)
        return
    with Progress(f"checking out {ref}") as progress:
        result = repo.checkout(ref, output, link=link, force=force, progress=progress)

    def render(r) -> None:
        if r.written:
            what = f"{r.files} files, " if r.kind == "directory" else ""
            say(f"Checked out {r.ref} to {r.path} ({what}{human_size(r.bytes)}, {r.link})")
        else:
            say(f"{r.path} already matches {r.ref}; nothing written")

    emit(result, json_out, render)
