"""Options that many commands share, and opening the repository."""

from typing import Annotated, Optional

import typer
from typer._click.types import StringParamType

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
MessageOption = Annotated[Optional[str], typer.Option(
    "--message", "-m", metavar="MESSAGE", help="Why: kept with the change in the audit log (mvc audit).")]


class Words(StringParamType):
    """Text that takes one of a few known values (``--link copy|reflink|...``). Help shows an
    upper-case METAVAR and the option's help names the values in words, so that a narrow
    terminal never folds a value in the middle; shell completion offers ``choices``. Another
    value is a usage error (exit 2) naming them, as for ``--format`` and ``completion SHELL``
    (an option's value outside its set, like a number outside its range: exit-codes.md); the
    API checks the value too, exit 1 there."""

    def __init__(self, *choices: str, more: bool = False):
        self.choices, self.more = choices, more  # more: other values are the API's to judge (a metric)

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if self.choices and not self.more and value not in self.choices:
            self.fail(f"{value!r} is not one of {', '.join(self.choices)}", param, ctx)
        return value


def open_repo():
    from mvc.api import Repo
    from mvc.cli.output import warn

    repo = Repo.open(".")
    repo.session.on_warning = warn  # derived work that failed after a commit (SPEC §10)
    return repo
