"""Re-hash stored objects; exit 3 on damage.

Checks every object in the store, or those the given versions need (for a directory artifact,
its manifest and every file), and exits 3 naming each missing or corrupt object.

EXAMPLES

    mvc verify
    mvc verify resnet@0.1.0 resnet@production
"""

from typing import Annotated, Any, Callable, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import Progress, emit_json, error, human_size, say, table


def finish(result: Any, ok: bool, message: str, as_json: bool, render: Callable[[Any], None],
           denied: bool = False) -> None:
    """Print a check's report; when it failed, also ``mvc: error: …`` on stderr and exit 3
    (4 with ``denied``: what is left needs a role the acting user lacks).

    With ``--json`` the one document on stdout is the report, plus an ``error`` key (SPEC §4)
    when the check failed.
    """
    if as_json:
        doc = result.to_dict()
        if not ok:
            doc["error"] = {"type": "permission_denied" if denied else "integrity", "message": message}
        emit_json(doc)
    else:
        render(result)
    if not ok:
        error(message)
        raise typer.Exit(4 if denied else 3)


def verify(
    refs: Annotated[
        Optional[list[str]], typer.Argument(metavar="REF...", help="Versions to check (default: every object in the store).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo

    repo = open_repo()
    with Progress("verifying objects") as progress:
        report = repo.verify(refs or [], progress=progress)

    def render(r) -> None:
        if r.problems:
            table(["problem", "digest", "used by"],
                  [[_problem(p), p.digest, ", ".join(p.used_by) or "not referenced"] for p in r.problems])
        if r.ok:
            say(f"{r.checked} object(s), {human_size(r.bytes)}: all intact")

    problems = report.problems
    message = "; ".join(f"{_what(p)} {p.digest.removeprefix('pack:')} is {_described(p)}"
                        + (f" (needed by {', '.join(p.used_by[:3])})" if p.used_by else "")
                        for p in problems[:5])
    if len(problems) > 5:
        message += f"; and {len(problems) - 5} more"
    what = "problem(s)" if any(p.problem == "not-a-manifest" for p in problems) else "object(s) missing or corrupt"
    finish(report, report.ok, f"{len(problems)} {what}: {message}{_advice(problems)}", json_out, render)


def _described(p) -> str:
    if p.problem == "not-a-manifest":
        return "intact but not a directory manifest, although its version is recorded as a directory"
    return _problem(p)


def _what(p) -> str:
    return "pack index" if p.digest.startswith("pack:") else "chunk" if p.digest.startswith("blake3:") else "object"


def _problem(p) -> str:
    return "unreadable" if p.digest.startswith("pack:") else p.problem


def _advice(problems) -> str:
    """What to run (docs/storage.md#gc-verify-and-fsck): a damaged copy the store holds by
    name hides it from a pull until ``fsck --repair`` sets it aside."""
    from mvc.core.integrity import pull_refs

    refs = " ".join(pull_refs(who for p in problems for who in p.used_by)) or "REF"
    if any(p.digest.startswith("pack:") for p in problems):
        return "; run 'mvc fsck' to see what to do"
    if all(p.problem == "not-a-manifest" for p in problems):
        return "; the registry's row is wrong, not the object: 'mvc fsck' names the row to correct"
    if any(p.problem == "corrupt" for p in problems):
        return f"; run 'mvc fsck --repair', then 'mvc pull {refs}'"
    return f"; run 'mvc pull {refs}'"
