"""Install git hooks that check out and push models.

post-checkout, post-merge and post-rewrite (after a rebase) write out the models that the
pointer files (PATH.mvc) git brought name; pre-push pushes the objects they need to the default remote, so that a
teammate's clone can pull them. The hooks go where git runs them (core.hooksPath and linked
worktrees included), call this installation of mvc by its absolute path, and say nothing
when there is nothing to do. A hook that was there before (git-lfs, husky) is kept as
NAME.pre-mvc and runs first; uninstall puts it back.

EXAMPLES

    mvc hooks install
    mvc hooks uninstall
"""

import os
from typing import Annotated

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import emit, say

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})

_SAID = {
    "installed": "Installed", "updated": "Updated", "unchanged": "Already installed",
    "removed": "Removed", "restored": "Restored the earlier hook", "absent": "No hook",
    "foreign": "Left alone (not mvc's)",
    "modified": "Left alone (mvc's, but changed since this work dir installed it: remove it by hand)",
}


def _render(result) -> None:
    for c in result.changes:
        kept = ""
        if c.earlier and c.action in ("installed", "updated", "unchanged"):
            kept = f" (runs the earlier hook {c.earlier} first)"
            if not os.access(c.earlier, os.X_OK):  # as git treats a hook that is not executable
                kept = f" (the earlier hook {c.earlier} is not executable, so it does not run)"
        say(f"{_SAID.get(c.action, c.action)}: {c.path}{kept}")


@app.command("install")
def install(
    force: Annotated[bool, typer.Option(
        "--force", "-f",
        help="When another tool replaced mvc's hook since the last install, chain to the new hook "
             "and keep the one kept before as NAME.pre-mvc.N (nothing is deleted); take over hooks "
             "that serve another .mvc folder of the same work tree.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Install mvc's git hooks.

    Installs post-checkout, post-merge, post-rewrite and pre-push hooks where git runs them
    (git rev-parse --git-path hooks). A hook that is not mvc's is kept as NAME.pre-mvc and runs
    first with the same arguments and input; its failure stops git as before. Running it again
    changes nothing. A hooks folder git tracks (core.hooksPath) is refused with the line to add to the
    committed hooks.

    EXAMPLES

        mvc hooks install
        mvc hooks install --json
    """
    from mvc.cli.common import open_repo

    result = open_repo().install_hooks(force=force)
    emit(result, json_out, _render)


@app.command("uninstall")
def uninstall(json_out: JsonOption = False) -> None:
    """Remove mvc's git hooks and put back the hooks they ran first.

    A hook that is not mvc's is left alone.

    EXAMPLES

        mvc hooks uninstall
        mvc hooks uninstall --json
    """
    from mvc.cli.common import open_repo

    result = open_repo().uninstall_hooks()
    emit(result, json_out, _render)
