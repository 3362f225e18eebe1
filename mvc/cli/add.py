"""Store a model and register a new version of it.

PATH, a file or a directory, goes into the object store; the new version records its metrics,
parameters, environment (mvc, Python, platform, user, git commit) and lineage (--data, --code,
--from). The first version of a model is 0.1.0; later ones bump the latest (--bump, default
patch). When the artifact, metrics and params equal the latest version's, nothing is added.

EXAMPLES

    mvc add model.safetensors --name resnet --metric accuracy=0.94
    mvc add model-v2.safetensors --name resnet --bump minor -m "more epochs"
    mvc add checkpoints/ --name bert --data data/train.csv --code train.py
    mvc add ~/.cache/huggingface/hub/models--gpt2/snapshots/REV --name gpt2 --follow-links
"""

from pathlib import Path
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption, Words
from mvc.cli.output import Progress, emit, human_size, say


def add(
    # readable=False on paths: one that cannot be read is the engine's exit 1 naming it, as a
    # file inside a directory is (SPEC §10), not a usage error
    path: Annotated[Path, typer.Argument(metavar="PATH", readable=False,
                                         help="The model file or directory to store.")],
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="Model name, e.g. resnet.")],
    version: Annotated[
        Optional[str], typer.Option("--version", metavar="VERSION",
                                    help="Explicit version, e.g. 1.2.0 (default: bump the latest).")
    ] = None,
    bump: Annotated[
        Optional[str], typer.Option("--bump", metavar="PART", click_type=Words("major", "minor", "patch"),
                                    help="Which part of the latest version to bump: major, minor or patch "
                                         "(default: patch).")
    ] = None,
    metric: Annotated[
        Optional[list[str]], typer.Option("--metric", metavar="K=V", help="A metric; repeat for more.")
    ] = None,
    metrics_file: Annotated[
        Optional[list[Path]], typer.Option("--metrics-file", metavar="PATH",
                                           help="A JSON object of metrics (nested keys flatten to a.b).")
    ] = None,
    param: Annotated[
        Optional[list[str]], typer.Option("--param", metavar="K=V", help="A parameter (JSON value or string); repeat for more.")
    ] = None,
    params_file: Annotated[
        Optional[list[Path]], typer.Option("--params-file", metavar="PATH", help="A JSON object of parameters.")
    ] = None,
    data: Annotated[
        Optional[list[Path]], typer.Option("--data", metavar="PATH", readable=False,
                                           help="A data file or directory the model was trained on.")
    ] = None,
    code: Annotated[
        Optional[list[Path]], typer.Option("--code", metavar="PATH", readable=False,
                                           help="A code file or directory that produced the model.")
    ] = None,
    parent: Annotated[
        Optional[list[str]], typer.Option("--from", metavar="REF", help="A model version this one was built from.")
    ] = None,
    tag: Annotated[
        Optional[list[str]], typer.Option("--tag", metavar="TAG", help="Tag the new version; repeat for more.")
    ] = None,
    message: Annotated[str, typer.Option("--message", "-m", metavar="MESSAGE",
                                         help="A message describing this version.")] = "",
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Create a version even when nothing changed.")
    ] = False,
    store_data: Annotated[
        bool, typer.Option("--store-data", help="Also store the --data files in the object store.")
    ] = False,
    git: Annotated[
        bool, typer.Option("--git", help="Write PATH.mvc, ignore PATH in git, commit the pointer and tag "
                           "NAME@vVERSION (GTO's format); a tag that says otherwise registers nothing, exit 1.")
    ] = False,
    follow_links: Annotated[
        bool, typer.Option("--follow-links", "-L",
                           help="Store each symlink in a folder as the file or folder it points to, wherever "
                                "it lies (as cp -L; a Hugging Face cache snapshot). Without it a link must stay "
                                "inside its folder and is stored as a link.")
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
            message=message, force=force, store_data=store_data, git=git, follow_links=follow_links,
            progress=progress,
        )

    def render(r) -> None:
        if r.created:
            say(f"Added {r.ref} ({r.digest}, {human_size(r.size)}, {r.kind})")
        else:
            say(f"{r.ref} already holds this artifact with the same metrics and params; "
                "nothing added (use --force to add anyway)")
        if r.git:
            from mvc.cli.promote import say_tagged

            if r.git.get("committed"):
                say(f"Committed {r.git['pointer']}")
            say_tagged(r.git)

    emit(result, json_out, render)
