"""Options that many commands share, and opening the repository."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from typer._click.types import StringParamType

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
MessageOption = Annotated[Optional[str], typer.Option(
    "--message", "-m", metavar="MESSAGE", help="Why: kept with the change in the audit log (mvc audit).")]


class Words(StringParamType):
    """Text that takes one of a few known values (``--link copy|reflink|...``). Help shows an
    upper-case METAVAR and the option's help names the values in words, so that a narrow
    terminal never folds a value in the middle; shell completion offers ``choices``; the API
    checks the value, so a wrong one is exit 1 with the list, like any other invalid value."""

    def __init__(self, *choices: str):
        self.choices = choices


def open_repo():
    from mvc.api import Repo
    from mvc.cli.output import warn

    repo = Repo.open(".")
    repo.session.on_warning = warn  # derived work that failed after a commit (SPEC §10)
    return repo
