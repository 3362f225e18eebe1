"""Show or verify the audit trail of every change.

Every change since init (and every refused one), newest first, each event chained to the one
before by its hash; a change's -m MESSAGE is in its details. --verify recomputes the chain and
exits 3 at the first broken link.

EXAMPLES

    mvc audit -n 10
    mvc audit --verify
    mvc audit --json
"""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, say, table
from mvc.cli.verify import finish


def audit(
    verify: Annotated[
        bool, typer.Option("--verify", help="Recompute the hash chain from the first event; exit 3 if broken.")
    ] = False,
    limit: Annotated[
        Optional[int], typer.Option("--limit", "-n", metavar="N", help="Show only the newest N events.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    if verify and limit is not None:
        from mvc.core.errors import UsageError

        raise UsageError("--verify checks the whole chain; it does not go with --limit")
    repo = open_repo()
    if verify:
        check = repo.audit_verify()
        finish(check, check.ok, check.message, json_out, lambda c: c.ok and say(c.message))
        return
    events = repo.audit(limit)

    def render(items) -> None:
        if not items:
            say("no events")
            return
        table(["seq", "time", "user", "action", "target", "details"],
              [[str(e.seq), e.ts, e.user, e.action, e.target,
                json.dumps(e.details, ensure_ascii=False, sort_keys=True) if e.details else ""] for e in items])

    emit(events, json_out, render)
