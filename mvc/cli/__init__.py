"""The ``mvc`` command. ``main`` answers ``--version`` and git hooks (``mvc __hook``)
before importing anything else, because git hooks, Makefiles and shell completion start
mvc over and over."""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    _closed_streams_to_devnull()
    if argv in (["--version"], ["-V"]):
        from mvc import __version__

        sys.stdout.write(f"mvc {__version__}\n")
        sys.exit(0)
    import signal

    try:
        if argv[:1] == ["__hook"]:  # what mvc's git hooks run: kept off typer's path to stay fast
            from mvc.cli.hook_run import main as run_hook

            code = run_hook(argv[1:])
        else:
            from mvc.cli.app import run

            code = run(argv)
        # Done: a Ctrl-C from here on would only interrupt Python's shutdown, with a traceback
        # ("Exception ignored in ...") and an exit status that no longer says how it ended.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:  # before a command ran (while Python imported mvc), or just after
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stderr.write("mvc: interrupted\n")
        code = 130
    sys.exit(code)


def _closed_streams_to_devnull() -> None:
    """Standard output or error closed by the caller (``mvc add m.bin >&-``, a daemon): Python
    leaves sys.stdout None and every print would fail after the work is done. What mvc would
    print there goes to /dev/null instead, as for a cron job whose output nobody reads."""
    import os

    for fd, name in ((1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.fstat(fd)
        except OSError:  # still closed: /dev/null there too, for the programs mvc runs (git)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
                null = fd
        # (open already: a file of Python's own took the number; leave it alone)
        setattr(sys, name, open(null, "w", encoding="utf-8", errors="backslashreplace"))
