"""Create an mvc repository (.mvc/).

Creates .mvc/ in DIR or the current directory: the object store, the registry, the lineage
file and config.toml. Running it again changes nothing. Inside a git work tree it stages
.mvc/config.toml and .mvc/.gitignore, so that a clone carries the settings.

With --registry postgresql://HOST:PORT/DB the registry lives on a PostgreSQL server, shared by
every clone ('mvc init --registry postgresql://db.example.com:5432/models'): init creates its
schema (your login becomes its first admin) or joins the one there, and writes registry.url
into config.toml. Never put a password in the URL: libpq takes it, and the login, from
PGPASSWORD, ~/.pgpass, PGUSER or a service file. In a teammate's clone, plain 'mvc init'
joins the registry config.toml names. --registry sqlite:///PATH keeps a SQLite registry at PATH.

EXAMPLES

    mvc init
    mvc init projects/vision
    mvc init projects/nlp --registry "sqlite:///$PWD/nlp-registry.db"
"""

from pathlib import Path
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, say, warn


def init(
    directory: Annotated[
        Optional[Path], typer.Argument(metavar="DIR", help="Where to create .mvc/ (default: the current directory).")
    ] = None,
    registry: Annotated[
        Optional[str], typer.Option("--registry", metavar="URL",
                                    help="Where the registry lives: postgresql://HOST:PORT/DB on a PostgreSQL server "
                                         "(no password; libpq supplies it), or sqlite:///PATH.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.api import Repo

    repo, result = Repo.initialize(directory or Path("."), registry)
    for message in repo.session.warnings:  # git would not stage the settings
        warn(message)

    def render(r) -> None:
        if r.created:
            say(f"Initialized empty mvc repository in {r.path}")
            if r.git_staged:
                say(f"Staged {', '.join(r.git_staged)} in git: commit them to share the settings.")
        elif not _own(r.registry, Path(r.path, "registry.db")):  # a team's registry, joined
            say(f"mvc repository in {r.path} uses the shared registry at {r.registry}")
        else:
            say(f"mvc repository already exists in {r.path}; nothing changed")

    emit(result, json_out, render)


def _own(url: str, default: Path) -> bool:
    """Whether ``url`` names the repository's own ``.mvc/registry.db``, however it is spelt."""
    import os

    from mvc.core.registry import sqlite_file

    return url.startswith("sqlite:///") and os.path.realpath(sqlite_file(url, default)) == os.path.realpath(default)
