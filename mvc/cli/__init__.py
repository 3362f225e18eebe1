"""The ``mvc`` command. ``main`` answers ``--version`` and git hooks (``mvc __hook``)
before importing anything else, because git hooks, Makefiles and shell completion start
mvc over and over."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv in (["--version"], ["-V"]):
        from mvc import __version__

        sys.stdout.write(f"mvc {__version__}\n")
        sys.exit(0)
    if argv[:1] == ["__hook"]:  # what mvc's git hooks run: kept off typer's path to stay fast
        from mvc.cli.hook_run import main as run_hook

        sys.exit(run_hook(argv[1:]))
    from mvc.cli.app import run

    sys.exit(run(argv))
