"""Show the history of versions or of a channel.

The versions of one model or of every model, newest first, like git log; with --channel, that
channel's history (every promote, rollback and canary step, with who and why).

EXAMPLES

    mvc log resnet -n 5
    mvc log resnet --channel production
    mvc log --json
"""

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import console, emit, key_values, piped, printable, short, table


def log(
    name: Annotated[Optional[str], typer.Argument(metavar="NAME", help="A model name (default: every model).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", metavar="N", min=1, help="Show at most N entries.")] = None,
    channel: Annotated[Optional[str], typer.Option(
        "--channel", "-c", metavar="CHANNEL", help="Show this channel's history (every promote, rollback, canary step).")] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    entries = open_repo().log(name, limit, channel=channel)
    if channel is not None:
        emit(entries, json_out, _render_channel)
        return

    def render(items) -> None:
        if piped():  # one line a version
            table(["ref", "digest", "state", "tags", "created", "author", "metrics", "message"],
                  [[e.ref, short(e.digest), e.state, ",".join(e.tags), e.created_at, e.created_by,
                    key_values(e.metrics), e.message] for e in items])
            return
        from rich.text import Text

        out = console()
        for i, e in enumerate(items):
            if i:
                out.print()
            decorations = [e.state] + [f"tag: {t}" for t in e.tags]
            out.print(Text.assemble((f"version {e.ref}", "yellow"), f" ({', '.join(decorations)})"), soft_wrap=True)
            lines = [f"Digest: {e.digest}", f"Author: {e.created_by}", f"Date:   {e.created_at}"]
            if e.message:
                lines += ["", *("    " + ln for ln in printable(e.message).split("\n"))]
            if e.metrics:
                lines.append("    " + printable(key_values(e.metrics)))
            for ln in lines:  # the terminal wraps a long line: a digest is never cut
                out.print(ln, markup=False, soft_wrap=True)

    emit(entries, json_out, render)


def _render_channel(moves) -> None:
    table(["seq", "time", "action", "version", "previous", "canary", "user", "message"],
          [[(str(m.seq), "yellow"), m.ts, m.action, m.version or "", m.previous or "",
            f"{m.canary['version']} {m.canary['percent']}%" if m.canary else "", m.user, m.message]
           for m in moves])
