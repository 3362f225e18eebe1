"""Return a channel to the version it served before the current one (a stack: rolling back
twice from 1.0 -> 1.1 -> 1.2 gives 1.1, then 1.0), or to --to VERSION."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit
from mvc.cli.promote import MessageOption, render_move


def rollback(
    name: Annotated[str, typer.Argument(help="The model name.")],
    channel: Annotated[str, typer.Option("--channel", "-c", help="The channel to roll back.")] = "production",
    to: Annotated[Optional[str], typer.Option(
        "--to", metavar="VERSION", help="Roll back to this version (one the channel served before).")] = None,
    message: MessageOption = "",
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    emit(open_repo().rollback(name, channel, to=to, message=message), json_out, render_move)
