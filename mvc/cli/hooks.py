"""Install git hooks that check out and push models.

post-checkout and post-merge run mvc checkout on the pointer files (PATH.mvc) that git brought;
pre-push pushes the objects they need to the default remote, so that a teammate's clone can
pull them. A hook that was there before runs first.

EXAMPLES

    mvc hooks install
    mvc hooks install --force
"""

from __future__ import annotations

from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, say

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})


@app.command("install")
def install(
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace hooks that are not mvc's.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Install mvc's git hooks.

    Installs post-checkout, post-merge and pre-push hooks in the enclosing git repository.

    EXAMPLES

        mvc hooks install
        mvc hooks install --force
    """
    from mvc.cli.common import open_repo

    result = open_repo().install_hooks(force=force)
    emit(result, json_out, lambda r: say("Installed " + ", ".join(r.hooks)))
