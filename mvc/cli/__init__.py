"""The ``mvc`` command. ``main`` answers ``--version`` before importing anything else,
because git hooks, Makefiles and shell completion start mvc over and over."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv in (["--version"], ["-V"]):
        from mvc import __version__

        sys.stdout.write(f"mvc {__version__}\n")
        sys.exit(0)
    from mvc.cli.app import run

    sys.exit(run(argv))
