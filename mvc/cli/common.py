"""Options that many commands share, and opening the repository."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def open_repo():
    from mvc.api import Repo

    return Repo.open(".")
