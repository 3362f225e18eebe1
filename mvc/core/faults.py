"""Crash points for tests: ``crash_point("add:stored")`` kills this process with SIGKILL
when ``MVC_CRASH_AT`` names that point, so tests can prove that a crash between any two
steps leaves the repository consistent; ``MVC_STOP_AT`` stops it there instead (SIGSTOP), so a
test can run another command at that instant. Without the variables it costs two dict lookups."""

from __future__ import annotations

import os
import signal
import threading


def crash_point(name: str) -> None:
    """Die at once (SIGKILL: no cleanup, no atexit, no flush) if ``MVC_CRASH_AT == name``.

    The signal goes to the calling thread: sent to the process, another thread may take it
    while this one, back from ``kill``, runs on past the point (a pool thread stopped at
    ``pull:before-recipe`` was seen holding the repository lock it takes next)."""
    if os.environ.get("MVC_CRASH_AT") == name:
        signal.pthread_kill(threading.get_ident(), signal.SIGKILL)
    if os.environ.get("MVC_STOP_AT") == name:  # frozen until SIGCONT: a race made certain
        signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)
