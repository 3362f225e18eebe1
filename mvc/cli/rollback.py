"""Return a channel to the version it served before.

The channel's history is a stack: rolling back twice from 1.0 -> 1.1 -> 1.2 gives 1.1, then
1.0. --to VERSION goes back to a version the channel served before. mvc log NAME --channel C
shows what it served. With --git the move is tagged in git as promote --git tags it: a newer
NAME#CHANNEL#N on the commit of the version the channel went back to, which is what GTO reads.
If it is interrupted before that tag is made, do not run it again (it would roll back once more):
mvc promote NAME@VERSION CHANNEL --git of the version served makes the tag, as the message says.

EXAMPLES

    mvc rollback resnet -m "latency regression" --git
    mvc log resnet --channel production
"""

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit
from mvc.cli.promote import GitOption, MessageOption, render_move


def rollback(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The model name.")],
    channel: Annotated[str, typer.Option("--channel", "-c", metavar="CHANNEL", help="The channel to roll back.")] = "production",
    to: Annotated[Optional[str], typer.Option(
        "--to", metavar="VERSION", help="Roll back to this version (one the channel served before).")] = None,
    message: MessageOption = "",
    git: GitOption = False,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    emit(open_repo().rollback(name, channel, to=to, message=message, git=git), json_out, render_move)
