"""Create an mvc repository (.mvc/).

Creates .mvc/ in DIR or the current directory: the object store, the registry, the lineage
file and config.toml. Running it again changes nothing. Inside a git work tree it stages
.mvc/config.toml and .mvc/.gitignore, so that a clone carries the settings.

EXAMPLES

    mvc init
    mvc init projects/vision
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, say


def init(
    directory: Annotated[
        Optional[Path], typer.Argument(metavar="DIR", help="Where to create .mvc/ (default: the current directory).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.api import Repo

    _, result = Repo.initialize(directory or Path("."))

    def render(r) -> None:
        if r.created:
            say(f"Initialized empty mvc repository in {r.path}")
            if r.git_staged:
                say(f"Staged {', '.join(r.git_staged)} in git: commit them to share the settings.")
        else:
            say(f"mvc repository already exists in {r.path}; nothing changed")

    emit(result, json_out, render)
