"""List models, or the versions of one model.

Without NAME: each model, its number of versions, the latest and what each channel serves.
With NAME: its versions, newest first, with a short digest, state, tags, time and metrics;
--where keeps those that meet every KEY OP VALUE (OP one of = != < <= > >=; KEY a metric,
param.NAME, tag, state, version or created), --sort orders them by version, created or a
metric (best first by its direction, compare.lower_is_better; versions without it last),
--reverse turns the order round and --limit keeps the first N. The registry does the work.
A metric or parameter that no version has, in --where or --sort, is exit 1 naming those it has.

EXAMPLES

    mvc ls
    mvc ls resnet --where 'accuracy > 0.9' --where 'state != archived' --sort accuracy --limit 5
    mvc ls resnet --state production --json
"""

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption, Words
from mvc.cli.output import emit, key_values, nothing, short, table

_STATES = Words("development", "staging", "production", "archived")


def ls(
    name: Annotated[Optional[str], typer.Argument(metavar="NAME", help="A model name: list its versions.")] = None,
    state: Annotated[
        Optional[str], typer.Option("--state", metavar="STATE",
                                    click_type=_STATES,
                                    help="Only versions in STATE: development, staging, production or archived.")
    ] = None,
    where: Annotated[
        Optional[list[str]], typer.Option("--where", metavar="EXPR",
                                          help="Only versions where EXPR holds: KEY OP VALUE, e.g. 'accuracy >= 0.9'"
                                               " or 'param.lr = 0.01'; repeat: all must hold.")
    ] = None,
    sort: Annotated[
        Optional[str], typer.Option("--sort", metavar="KEY", click_type=Words("version", "created", more=True),
                                    help="Order by version (the default) or created, newest first, or by a "
                                         "metric, best first.")
    ] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="Turn the order round.")] = False,
    limit: Annotated[
        Optional[int], typer.Option("--limit", "-n", metavar="N", min=1, help="At most N versions.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    query = bool(where) or sort is not None or reverse or limit is not None
    if name is None and query:
        from mvc.core.errors import UsageError

        raise UsageError("--where, --sort, --reverse and --limit need a model name: mvc ls NAME --where EXPR")
    repo = open_repo()

    def render(items) -> None:
        if name is None:
            if not items:
                nothing(["model", "versions", "latest", *repo.channel_names()],  # the columns ls has later
                        "no models yet; add one with 'mvc add PATH --name NAME'")
                return
            channels = list(items[0].channels)
            table(["model", "versions", "latest", *channels],
                  [[m.model, str(m.versions), m.latest, *[m.channels[c] or "-" for c in channels]]
                   for m in items])
        else:
            table(["ref", "digest", "state", "tags", "created", "metrics"],
                  [[v.ref, short(v.digest), v.state, ",".join(v.tags), v.created_at, key_values(v.metrics)]
                   for v in items])

    from mvc.core.query import collector_paused

    # 100,000 versions: their rows, summaries and lines built and freed without the collector's
    # walks (freed while it is paused, they leave no count behind that sets off a full walk)
    with collector_paused():
        if not query:
            rows = repo.ls(name, state)
        else:
            rows = repo.find(name, where=[*([f"state = {state}"] if state else []), *(where or ())],
                             sort=sort, reverse=reverse, limit=limit)
        emit(rows, json_out, render)
        del rows
