"""Crash points for tests: ``crash_point("add:stored")`` kills this process with SIGKILL
when ``MVC_CRASH_AT`` names that point, so tests can prove that a crash between any two
steps leaves the repository consistent; ``MVC_STOP_AT`` stops it there instead (SIGSTOP), so a
test can run another command at that instant. Without the variables it costs two dict lookups."""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    """Die at once (SIGKILL: no cleanup, no atexit, no flush) if ``MVC_CRASH_AT == name``."""
    if os.environ.get("MVC_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("MVC_STOP_AT") == name:  # frozen until SIGCONT: a race made certain
        os.kill(os.getpid(), signal.SIGSTOP)
