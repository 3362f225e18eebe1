"""Serve a new version to a share of a channel's traffic.

A canary release: the new version serves a share of the channel's traffic from the idle slot,
beside the stable version; raise the share step by step (a failing --check aborts it), then
promote it to stable or abort it. mvc resolve --key routes each request key the same way.

EXAMPLES

    mvc canary start resnet@0.3.0 --channel production --percent 10
    mvc canary step resnet --channel production --increment 40
    mvc canary promote resnet --channel production
"""

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, say
from mvc.cli.promote import CheckOption, GitOption, MessageOption, render_move

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})

ChannelOption = Annotated[str, typer.Option("--channel", "-c", metavar="CHANNEL", help="The channel the canary runs on.")]
NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The model name.")]


@app.command("start")
def start(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The version to serve as canary: NAME@VERSION, NAME@TAG, ...")],
    channel: ChannelOption = ...,
    percent: Annotated[int, typer.Option("--percent", "-p", metavar="PERCENT", min=1, max=99, help="Its share of the traffic, 1-99.")] = ...,
    check: CheckOption = None,
    message: MessageOption = "",
    json_out: JsonOption = False,
) -> None:
    """Start a canary beside the stable version.

    REF serves PERCENT % of the channel's traffic, from the idle slot; --check runs against it
    first.

    EXAMPLES

        mvc canary start resnet@0.3.0 --channel production --percent 10
        mvc canary status resnet --channel production
    """
    from mvc.cli.common import open_repo

    emit(open_repo().canary_start(ref, channel, percent, check=check, message=message), json_out, render_move)


@app.command("step")
def step(
    name: NameArgument,
    channel: ChannelOption = ...,
    increment: Annotated[int, typer.Option("--increment", "-i", metavar="PERCENT", min=1, max=98, help="Percentage points to add.")] = ...,
    check: CheckOption = None,
    message: MessageOption = "",
    json_out: JsonOption = False,
) -> None:
    """Raise the canary's share of the traffic.

    A failing --check aborts the canary (the stable version serves everything) and exits 5.

    EXAMPLES

        mvc canary start resnet@0.3.0 -c production -p 10
        mvc canary step resnet -c production -i 40 -m "error rate flat"
    """
    from mvc.cli.common import open_repo

    emit(open_repo().canary_step(name, channel, increment, check=check, message=message), json_out, render_move)


@app.command("promote")
def promote(name: NameArgument, channel: ChannelOption = ..., message: MessageOption = "",
            git: GitOption = False, json_out: JsonOption = False) -> None:
    """Make the canary the stable version.

    It serves 100% of the channel's traffic; the old stable version stays in the other slot.
    With --git the channel's new version is tagged in git as promote --git tags it.

    EXAMPLES

        mvc canary start resnet@0.3.0 -c production -p 10
        mvc canary promote resnet -c production -m "no regressions in a day" --git
    """
    from mvc.cli.common import open_repo

    emit(open_repo().canary_promote(name, channel, message=message, git=git), json_out, render_move)


@app.command("abort")
def abort(name: NameArgument, channel: ChannelOption = ..., message: MessageOption = "",
          json_out: JsonOption = False) -> None:
    """Drop the canary; the stable version serves all traffic.

    EXAMPLES

        mvc canary start resnet@0.3.0 -c production -p 10
        mvc canary abort resnet -c production -m "p99 latency up"
    """
    from mvc.cli.common import open_repo

    emit(open_repo().canary_abort(name, channel, message=message), json_out, render_move)


@app.command("status")
def status(name: NameArgument, channel: ChannelOption = ..., json_out: JsonOption = False) -> None:
    """Show a channel's stable version and canary.

    EXAMPLES

        mvc canary status resnet --channel production
        mvc canary status resnet -c staging --json
    """
    from mvc.cli.common import open_repo

    def render(s) -> None:
        say(f"{s.channel}: {s.ref or 'serves nothing'}" + (f" (slot {s.slot})" if s.slot else ""))
        say(f"canary: {s.canary['ref']} at {s.canary['percent']}%" if s.canary else "canary: none")

    emit(open_repo().canary_status(name, channel), json_out, render)
