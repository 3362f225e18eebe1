"""Show or verify the audit trail of every change.

Every change since init (and every refused one), newest first, each event chained to the one
before by its hash; a change's -m MESSAGE is in its details. --verify recomputes the chain and
exits 3 at the first broken link.

A chain rewritten whole (every hash recomputed) still holds together, so keep its head
elsewhere: --head prints the newest event's hash for a CI log or a git tag message, and
--verify --head HASH also checks that HASH is still in the chain (exit 3 if not).

EXAMPLES

    mvc audit -n 10
    mvc audit --verify
    mvc audit --head > audit-head.txt
    mvc audit --verify --head "$(cat audit-head.txt)"
    mvc audit --json
"""

import json
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, nothing, say, table
from mvc.cli.verify import finish


def audit(
    anchor: Annotated[
        Optional[str],
        typer.Argument(metavar="[HASH]", show_default=False,
                       help="With --verify --head: a head hash kept elsewhere, that must be in the chain."),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Recompute the hash chain from the first event; exit 3 if broken.")
    ] = False,
    head: Annotated[
        bool, typer.Option("--head", help="Print the newest event's hash, to keep elsewhere; with --verify and a HASH "
                           "kept earlier, also check that it is in the chain (exit 3 if not).")
    ] = False,
    limit: Annotated[
        Optional[int], typer.Option("--limit", "-n", metavar="N", min=1, help="Show only the newest N events.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    _check_usage(verify, head, anchor, limit)
    repo = open_repo()
    if verify:
        check = repo.audit_verify(anchor)
        finish(check, check.ok, check.message, json_out, lambda c: c.ok and say(c.message))
        return
    if head:
        emit(repo.audit_head(), json_out, lambda h: say(h.hash))
        return
    events = repo.audit(limit)

    def render(items) -> None:
        if not items:
            nothing(["seq", "time", "user", "action", "target", "details"], "no events")
            return
        table(["seq", "time", "user", "action", "target", "details"],
              [[str(e.seq), e.ts, e.user, e.action, e.target,
                json.dumps(e.details, ensure_ascii=False, sort_keys=True) if e.details else ""] for e in items])

    emit(events, json_out, render)


def _check_usage(verify: bool, head: bool, anchor: str | None, limit: int | None) -> None:
    from mvc.core.errors import UsageError

    if (verify or head) and limit is not None:
        raise UsageError(f"{'--verify' if verify else '--head'} does not go with --limit")
    if anchor is not None and not (verify and head):
        raise UsageError("a HASH goes with --verify --head HASH (check that the chain contains it)")
    if verify and head and anchor is None:
        raise UsageError("--verify --head needs the HASH that 'mvc audit --head' printed earlier")
