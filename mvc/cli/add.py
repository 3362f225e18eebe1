"""Store a model file or directory and register a new version of it, with its metrics,
parameters, environment and lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import Progress, emit, human_size, say


def add(
    path: Annotated[Path, typer.Argument(help="The model file or directory to store.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Model name, e.g. resnet.")],
    version: Annotated[
        Optional[str], typer.Option("--version", help="Explicit version, e.g. 1.2.0 (default: bump the latest).")
    ] = None,
    bump: Annotated[
        Optional[str], typer.Option("--bump", metavar="major|minor|patch",
                                    help="Which part of the latest version to bump (default: patch).")
    ] = None,
    metric: Annotated[
        Optional[list[str]], typer.Option("--metric", metavar="K=V", help="A metric; repeat for more.")
    ] = None,
    metrics_file: Annotated[
        Optional[list[Path]], typer.Option("--metrics-file", help="A JSON object of metrics (nested keys flatten to a.b).")
    ] = None,
    param: Annotated[
        Optional[list[str]], typer.Option("--param", metavar="K=V", help="A parameter (JSON value or string); repeat for more.")
    ] = None,
    params_file: Annotated[
        Optional[list[Path]], typer.Option("--params-file", help="A JSON object of parameters.")
    ] = None,
    data: Annotated[
        Optional[list[Path]], typer.Option("--data", help="A data file or directory the model was trained on.")
    ] = None,
    code: Annotated[
        Optional[list[Path]], typer.Option("--code", help="A code file or directory that produced the model.")
    ] = None,
    parent: Annotated[
        Optional[list[str]], typer.Option("--from", metavar="REF", help="A model version this one was built from.")
    ] = None,
    tag: Annotated[
        Optional[list[str]], typer.Option("--tag", help="Tag the new version; repeat for more.")
    ] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="A message describing this version.")] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Create a version even when nothing changed.")
    ] = False,
    store_data: Annotated[
        bool, typer.Option("--store-data", help="Also store the --data files in the object store.")
    ] = False,
    git: Annotated[
        bool, typer.Option("--git", help="Write PATH.mvc, ignore PATH in git, commit the pointer and tag NAME@vVERSION.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    repo = open_repo()
    total = path.stat().st_size if path.is_file() else None
    with Progress(f"adding {path.name}", total) as progress:
        result = repo.add(
            path, name, version=version, bump=bump, metrics=metric or [],
            metrics_files=metrics_file or [], params=param or [], params_files=params_file or [],
            data=data or [], code=code or [], parents=parent or [], tags=tag or [],
            message=message, force=force, store_data=store_data, git=git, progress=progress,
        )

    def render(r) -> None:
        if r.created:
            say(f"Added {r.ref} ({r.digest}, {human_size(r.size)}, {r.kind})")
        else:
            say(f"{r.ref} already holds this artifact with the same metrics and params; "
                "nothing added (use --force to add anyway)")
        if r.git:
            say(f"Committed {r.git['pointer']} and tagged {r.git['tag']}")

    emit(result, json_out, render)
