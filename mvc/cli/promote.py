"""Make a channel serve a version, blue-green.

The version is written into the channel's idle slot, --check runs against it there, and only
when the check passes is the channel switched, atomically; the previous version stays in the
other slot for an instant rollback. A failed check changes nothing and exits 5.

EXAMPLES

    mvc promote resnet@staging production -m "accuracy 0.95 on holdout"
    mvc promote resnet@0.2.0 staging --check 'test -s "$MVC_MODEL_PATH"'
    mvc promote resnet@0.3.0 production --git    # then: git push origin --tags
"""

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, say

CheckOption = Annotated[Optional[str], typer.Option(
    "--check", metavar="CMD",
    help="A shell command run against the staged version (MVC_MODEL, MVC_VERSION, MVC_REF, "
    "MVC_CHANNEL, MVC_MODEL_PATH are set); the channel moves only if it exits 0, else exit 5.",
)]
MessageOption = Annotated[str, typer.Option("-m", "--message", metavar="MESSAGE",
                                            help="Why: kept in the channel's history and the audit log.")]
GitOption = Annotated[bool, typer.Option(
    "--git", help="Also tag NAME#CHANNEL#N in git (GTO's format; N counts the channel's moves) on the commit "
    "that registers the version the channel now serves; a tag that says otherwise changes nothing, exit 1.",
)]


def render_move(move) -> None:
    """One or two lines for humans about what a promote, rollback or canary command did."""
    if not move.changed:
        caught_up = bool(move.git and move.git["created"])  # --git made the tags git lacked
        say(f"{move.channel} serves {move.ref} already" + ("" if caught_up else "; nothing to do"))
        if caught_up:
            say_tagged(move.git)
        return
    if move.action.startswith("canary") and move.canary is not None:
        say(f"{move.channel}: {move.model}@{move.canary['version']} serves {move.canary['percent']}% "
            f"beside {move.ref}")
        return
    dropped = move.dropped_canary
    if move.action == "canary-abort" and dropped is not None:
        say(f"{move.channel}: the canary {move.model}@{dropped['version']} ({dropped['percent']}%) was dropped; "
            f"{move.ref} serves all traffic")
        if move.path:
            say(f"serving {move.path}")
        return
    before = move.previous or "nothing"
    say(f"{move.channel}: {move.model} {before} -> {move.version} ({move.action}, slot {move.slot})")
    if dropped is not None:
        say(f"the canary {move.model}@{dropped['version']} ({dropped['percent']}%) was dropped")
    if move.path:
        say(f"serving {move.path}")
    if move.git:
        say_tagged(move.git)


def say_tagged(git: dict) -> None:
    """What ``--git`` did: the tags made, or that a teammate's said it already (a failure's
    warning went to stderr)."""
    where = f"on {(git['commit'] or '')[:7]}"
    if git["created"]:
        say(f"git: tagged {', '.join(git['created'])} {where}")
    if git["tag"] not in git["created"] and "warning" not in git:
        say(f"git: {git['tag']} {where} was there already")


def promote(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The version to serve: NAME@VERSION, NAME@TAG, NAME@CHANNEL, ...")],
    channel: Annotated[str, typer.Argument(metavar="CHANNEL", help="The channel: staging, production or one from config.")],
    check: CheckOption = None,
    message: MessageOption = "",
    git: GitOption = False,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    emit(open_repo().promote(ref, channel, check=check, message=message, git=git), json_out, render_move)
