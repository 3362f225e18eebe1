"""Output rules for every command: data on stdout, everything else on stderr.

``--json`` prints one JSON document on stdout; humans get rich tables. Colour follows the
terminal and ``NO_COLOR`` (rich does both); progress bars appear only on a terminal and
only once work has taken more than half a second.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

_consoles: dict[str, Any] = {}


def console(stderr: bool = False):
    key = "err" if stderr else "out"
    if key not in _consoles:
        from rich.console import Console

        class _Console(Console):
            def on_broken_pipe(self) -> None:
                # rich would exit 1; emit() turns a reader going away into a quiet exit 0
                self.quiet = True
                raise BrokenPipeError

        stream = sys.stderr if stderr else sys.stdout
        # In a pipe rich would wrap at 80 columns; data lines should not be cut there.
        width = None if stream.isatty() else 200
        _consoles[key] = _Console(file=stream, stderr=stderr, width=width, highlight=False,
                                 soft_wrap=not stream.isatty())
    return _consoles[key]


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def emit(result: Any, as_json: bool, render) -> None:
    """Print ``result`` as JSON (its ``to_dict()``) or through ``render(result)``.

    A reader that goes away (``mvc log | head -1``) is not an error: the rest of the output
    is dropped and mvc exits 0, like git."""
    try:
        if as_json:
            if isinstance(result, list):
                emit_json([r.to_dict() if hasattr(r, "to_dict") else r for r in result])
            else:
                emit_json(result.to_dict() if hasattr(result, "to_dict") else result)
        else:
            render(result)
        sys.stdout.flush()
    except BrokenPipeError:
        import os

        import typer

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None


def table(headers: list[str], rows: list[list[str]]) -> None:
    """A borderless table: rich on a terminal; in a pipe, the same columns as plain text
    (two spaces apart, no trailing blanks), without importing rich, since scripts and
    Makefiles are what run mvc in pipes, over and over."""
    if sys.stdout.isatty():
        from rich.table import Table

        t = Table(box=None, header_style="bold")
        for h in headers:
            t.add_column(h)
        for row in rows:
            t.add_row(*row)
        console().print(t)
        return
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        sys.stdout.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")


def say(message: str) -> None:
    """One plain line for a human on stdout: no markup, so a path or a ref with brackets
    prints as it is, and no rich import for the commands that print only this."""
    sys.stdout.write(message + "\n")


def warn(message: str) -> None:
    console(stderr=True).print(f"mvc: warning: {message}", markup=False)


def short(digest: str) -> str:
    return digest[:19] if digest else ""


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list, bool)) or value is None:
        return json.dumps(value)
    return str(value)


class Progress:
    """A byte counter for long work: silent in pipes; a bar on a terminal after 0.5 s."""

    DELAY = 0.5

    def __init__(self, description: str, total: int | None = None):
        self.description = description
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self.enabled = sys.stderr.isatty()
        self._bar = None
        self._task = None

    def __call__(self, nbytes: int) -> None:
        self.done += nbytes
        if not self.enabled:
            return
        if self._bar is None:
            if time.monotonic() - self.start < self.DELAY:
                return
            from rich.progress import (
                BarColumn, DownloadColumn, Progress as RichProgress, TextColumn, TransferSpeedColumn,
            )

            self._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                console=console(stderr=True), transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total)
        self._bar.update(self._task, completed=self.done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
