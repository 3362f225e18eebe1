"""Canary releases: serve a new version to a share of a channel's traffic beside its stable
version, raise the share step by step, then promote or abort it."""

from __future__ import annotations

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, say
from mvc.cli.promote import CheckOption, MessageOption, render_move

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})

ChannelOption = Annotated[str, typer.Option("--channel", "-c", help="The channel the canary runs on.")]
NameArgument = Annotated[str, typer.Argument(help="The model name.")]


@app.command("start")
def start(
    ref: Annotated[str, typer.Argument(help="The version to serve as canary: NAME@VERSION, NAME@TAG, ...")],
    channel: ChannelOption = ...,
    percent: Annotated[int, typer.Option("--percent", "-p", help="Its share of the traffic, 1-99.")] = ...,
    check: CheckOption = None,
    message: MessageOption = "",
    json_out: JsonOption = False,
) -> None:
    """Serve REF to PERCENT % of the channel's traffic, from the idle slot."""
    from mvc.cli.common import open_repo

    emit(open_repo().canary_start(ref, channel, percent, check=check, message=message), json_out, render_move)


@app.command("step")
def step(
    name: NameArgument,
    channel: ChannelOption = ...,
    increment: Annotated[int, typer.Option("--increment", "-i", help="Percentage points to add.")] = ...,
    check: CheckOption = None,
    message: MessageOption = "",
    json_out: JsonOption = False,
) -> None:
    """Raise the canary's share; a failing --check aborts the canary and exits 5."""
    from mvc.cli.common import open_repo

    emit(open_repo().canary_step(name, channel, increment, check=check, message=message), json_out, render_move)


@app.command("promote")
def promote(name: NameArgument, channel: ChannelOption = ..., message: MessageOption = "",
            json_out: JsonOption = False) -> None:
    """Make the canary the stable version, at 100%."""
    from mvc.cli.common import open_repo

    emit(open_repo().canary_promote(name, channel, message=message), json_out, render_move)


@app.command("abort")
def abort(name: NameArgument, channel: ChannelOption = ..., message: MessageOption = "",
          json_out: JsonOption = False) -> None:
    """Drop the canary; the stable version serves all traffic."""
    from mvc.cli.common import open_repo

    emit(open_repo().canary_abort(name, channel, message=message), json_out, render_move)


@app.command("status")
def status(name: NameArgument, channel: ChannelOption = ..., json_out: JsonOption = False) -> None:
    """Show the stable version and the canary of a channel, with their slot paths."""
    from mvc.cli.common import open_repo

    def render(s) -> None:
        say(f"{s.channel}: {s.ref or 'serves nothing'}" + (f" (slot {s.slot})" if s.slot else ""))
        say(f"canary: {s.canary['ref']} at {s.canary['percent']}%" if s.canary else "canary: none")

    emit(open_repo().canary_status(name, channel), json_out, render)
