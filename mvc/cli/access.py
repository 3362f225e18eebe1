"""Grant and revoke roles: who may change what.

Roles include the ones before them: reader < writer (add, tag) < maintainer (channels other
than production, archive, config) < admin (production, access, gc). A repository is open
until the first grant, which must make you an admin; from then on users without a grant are
readers and refused changes exit 4.

On a PostgreSQL registry the server enforces the roles: USER is a login of the server (the
acting user is the connection's login, whatever MVC_USER says), the roles are the PostgreSQL
roles mvc_reader, mvc_writer, mvc_maintainer and mvc_admin (GRANT and REVOKE), the registry is
never open, and a login without a role cannot read it.

EXAMPLES

    mvc access grant alice@example.com admin
    mvc access grant bob@example.com writer -m "joins the vision team"
    mvc access list
"""

from typing import Annotated

import typer

from mvc.cli.common import JsonOption, MessageOption, Words
from mvc.cli.output import emit, nothing, say, table

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})


@app.command("grant")
def grant(
    user: Annotated[str, typer.Argument(metavar="USER", help="The user, as MVC_USER or git's user.email names them.")],
    role: Annotated[str, typer.Argument(metavar="ROLE", click_type=Words("reader", "writer", "maintainer", "admin"),
                                        help="reader, writer, maintainer or admin.")],
    message: MessageOption = None,
    json_out: JsonOption = False,
) -> None:
    """Give a user a role.

    Needs admin; the first grant must make you admin.

    EXAMPLES

        mvc access grant alice@example.com admin
        mvc access grant bob@example.com maintainer -m "runs staging"
    """
    from mvc.cli.common import open_repo

    change = open_repo().access_grant(user, role, message=message)
    messages = {
        "granted": "Granted {role} to {user}",
        "changed": "{user} is now {role} (was {previous})",
        "unchanged": "{user} is {role} already",
    }
    emit(change, json_out, lambda c: say(messages[c.action].format(**c.to_dict())))


@app.command("revoke")
def revoke(
    user: Annotated[str, typer.Argument(metavar="USER", help="The user whose grant to remove (they become a reader).")],
    message: MessageOption = None,
    json_out: JsonOption = False,
) -> None:
    """Remove a user's grant.

    Needs admin; the user becomes a reader. The last admin cannot be revoked.

    EXAMPLES

        mvc access grant alice@example.com admin
        mvc access grant bob@example.com writer
        mvc access revoke bob@example.com -m "left the team"
    """
    from mvc.cli.common import open_repo

    change = open_repo().access_revoke(user, message=message)
    emit(change, json_out, lambda c: say(f"Revoked {c.previous} from {c.user}; they are a reader now "
                                                 "(on a PostgreSQL registry: without access)"))


@app.command("list")
def list_(json_out: JsonOption = False) -> None:
    """List the grants.

    No grants: the repository is open and everyone acts as admin.

    EXAMPLES

        mvc access list
        mvc access list --json
    """
    from mvc.cli.common import open_repo

    grants = open_repo().access_list()

    def render(items) -> None:
        if not items:
            nothing(["user", "role", "granted by", "granted at"],
                    "no grants: the repository is open (everyone acts as admin)")
            return
        table(["user", "role", "granted by", "granted at"],
              [[g.user, g.role, g.granted_by, g.granted_at] for g in items])

    emit(grants, json_out, render)
