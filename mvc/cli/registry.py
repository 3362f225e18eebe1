"""Move the registry to another place.

mvc registry move URL copies the whole registry (versions, tags, channels with their history,
lineage, grants and the audit chain as it is, so 'mvc audit --verify' holds) into an empty
registry at URL, checks the copy, then points registry.url in .mvc/config.toml at it. Start
alone on SQLite and grow into a PostgreSQL server without losing a thing
('mvc registry move postgresql://ana@db.example.com:5432/models'). Needs admin.

EXAMPLES

    mvc registry move "sqlite:///$PWD/../registry.db"
    mvc audit --verify
"""

from typing import Annotated

import typer

from mvc.cli.common import JsonOption, MessageOption
from mvc.cli.output import emit, say

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})


@app.command("move")
def move(
    url: Annotated[str, typer.Argument(
        metavar="URL", help="An empty registry: postgresql://HOST:PORT/DB (no password; libpq supplies it) "
                            "or sqlite:////ABSOLUTE/PATH.db (made when missing).")],
    message: MessageOption = None,
    json_out: JsonOption = False,
) -> None:
    """Copy the whole registry into an empty one, then use it.

    The target must be empty (exit 1 otherwise). The copy is checked (every row, every
    version's digest, the audit chain and its head) before registry.url changes, so a
    failure or a crash leaves the old registry in use; it is never changed: delete it once
    the move is done. Commit .mvc/config.toml so that every clone follows; until a clone has
    it, that clone still writes to the old registry. To a PostgreSQL server:
    mvc registry move postgresql://ana@db.example.com:5432/models

    EXAMPLES

        mvc audit --head > audit-head.txt
        mvc registry move "sqlite:///$PWD/../registry.db" -m "next to the project"
        mvc audit --verify --head "$(cat audit-head.txt)"
    """
    from mvc.cli.common import open_repo

    moved = open_repo().registry_move(url, message=message)

    def render(m) -> None:
        copied = m.copied
        say(f"Moved the registry to {m.target}: {copied['versions']} version(s) of {copied['models']} model(s), "
            f"{copied['tags']} tag(s), {copied['history']} channel move(s), {copied['grants']} grant(s), "
            f"{copied['events']} audit event(s)")
        if m.roles_created:
            say(f"Created PostgreSQL role(s) for the grantees that had none: {', '.join(m.roles_created)}; "
                "roles are server-wide and made without LOGIN (a DBA gives each a login: ALTER ROLE name LOGIN "
                "PASSWORD '...')")
        say(f"registry.url now names it; {m.source} was left as it was (delete it when you no longer need it)")

    emit(moved, json_out, render)
