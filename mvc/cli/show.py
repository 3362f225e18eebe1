"""Show everything about one version.

Its digest, size, state, tags, channels, metrics, parameters, environment, git commit, lineage,
message and, for a directory, its files.

EXAMPLES

    mvc show resnet@0.1.0
    mvc show resnet@production --json
"""

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, fields, human_size, line, one_line, piped, table


def show(
    ref: Annotated[str, typer.Argument(metavar="REF", help="NAME, NAME@VERSION, NAME@TAG, NAME@CHANNEL or sha256:PREFIX.")],
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    info = open_repo().show(ref)

    def render(v) -> None:
        rows = [
            ("ref", v.ref), ("digest", v.digest), ("kind", v.kind),
            ("size", f"{human_size(v.size)} ({v.size} bytes)"), ("state", v.state),
            ("tags", ", ".join(v.tags)), ("channels", ", ".join(v.channels)),
            ("created", v.created_at), ("created by", v.created_by), ("message", v.message),
        ]
        for section in ("metrics", "params"):
            for k, x in getattr(v, section).items():  # a value on one line, as a name
                rows.append((f"{section[:-1]} {k}", one_line(x)))
        for k in ("commit", "branch", "dirty", "remote"):
            if k in v.git:
                rows.append((f"git {k}", v.git[k]))
        for k in ("mvc_version", "python", "platform", "user", "host"):
            if k in v.env:
                rows.append((f"env {k}", v.env[k]))
        for kind in ("data", "code"):
            for item in v.lineage[kind]:
                rows.append((kind, f"{one_line(item['path'])} ({item['digest']})"))
        for parent in v.lineage["parents"]:
            rows.append(("from", parent))
        fields(rows)
        if v.kind == "directory":
            # a file's name, one line on a terminal, whatever the folder's owner named it
            files = [[one_line(e["path"]), e["size"], e.get("digest") or "-> " + one_line(e.get("target", ""))]
                     for e in v.files]
            if piped():  # records of their own kind after the NAME<TAB>VALUE lines
                for f in files:
                    line("file", *f)
            else:
                table(["path", "size", "digest"], files, title="files")

    emit(info, json_out, render)
