"""Output rules for every command: data on stdout, everything else on stderr.

``--json`` prints one JSON document on stdout. Humans on a terminal get rich tables that
fit the width; in a pipe every command prints what git and coreutils print: plain lines,
one record per line, columns separated by one tab, never wrapped or cut, the same at any
terminal width, and without importing rich. Colour follows the terminal and ``NO_COLOR``
(rich does both); progress bars appear only on a terminal and only once work has taken
more than half a second.

A value holding a tab, a newline or another control character would break a line into
two records, so in a pipe such characters are written the way PostgreSQL's COPY text
format and ``mysql --batch`` write them: ``\\t``, ``\\n``, ``\\r``, other control characters
as ``\\xHH``, and a backslash as ``\\\\`` so that the escaping can be undone. An empty cell
prints as ``-`` so that no line ends in a blank. Unicode's line separators and its bidirectional
controls (which make a terminal show text in another order than it is, "Trojan Source") are
written ``\\uHHHH`` everywhere, on a terminal too.
"""

import json
import math
import re
import sys
import time
from typing import Any

from mvc.cli.json_text import listing_json, records_json

_consoles: dict[str, Any] = {}


def flush_stdout(stream=None) -> None:
    """Flush standard output: what is still buffered fails here (the error of
    ``output_failed``), not silently at exit; a reader gone stays a BrokenPipeError."""
    try:
        (stream or sys.stdout).flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise output_failed(exc) from None


class Stdout:
    """Standard output for rich: a write that fails (a full disk, a device error; not a
    reader gone, which emit() handles) becomes the one-line error of ``output_failed``."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        if isinstance(text, str) and not text:  # click's probe of the stream: no write to fail
            return 0
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise output_failed(exc) from None

    def flush(self) -> None:
        flush_stdout(self.stream)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def console(stderr: bool = False):
    key = "err" if stderr else "out"
    if key not in _consoles:
        from rich.console import Console

        class _Console(Console):
            def on_broken_pipe(self) -> None:
                # rich would exit 1; emit() turns a reader going away into a quiet exit 0
                self.quiet = True
                raise BrokenPipeError

        stream = sys.stderr if stderr else sys.stdout if isinstance(sys.stdout, Stdout) else Stdout(sys.stdout)
        # In a pipe rich would wrap at 80 columns; data lines should not be cut there.
        width = None if stream.isatty() else 200
        _consoles[key] = _Console(file=stream, stderr=stderr, width=width, highlight=False,
                                 soft_wrap=not stream.isatty())
    return _consoles[key]


def _finite(value: Any) -> Any:
    """``value`` with NaN and ±Infinity as null, the way JavaScript's JSON.stringify prints them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def emit_json(data: Any) -> None:
    """One JSON document that every parser reads (SPEC §10): a non-finite number (only a
    registry written before mvc refused them holds one) prints as null, never NaN."""
    try:
        text = records_json(data) or json.dumps(data, indent=2, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(data), indent=2, ensure_ascii=False, default=str, allow_nan=False)
    sys.stdout.write(text)
    sys.stdout.write("\n")


def emit(result: Any, as_json: bool, render) -> None:
    """Print ``result`` as JSON (its ``to_dict()``) or through ``render(result)``.

    A reader that goes away (``mvc log | head -1``) is not an error: the rest of the output
    is dropped and mvc exits 0, like git."""
    try:
        if as_json:
            parts = listing_json(result) if isinstance(result, list) else None
            if parts is not None:
                for part in parts:
                    sys.stdout.write(part)
                sys.stdout.write("\n")
            elif isinstance(result, list):
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
    except OSError as exc:  # a full disk or a device error: said, the change (if any) kept
        raise output_failed(exc) from None


def output_failed(exc: OSError):
    """The error for standard output that cannot be written (``mvc show --json > /dev/full``):
    one line, saying whether this command's change was made anyway (git likewise exits
    non-zero when it cannot write what it prints). What is left unwritten goes nowhere."""
    import os

    from mvc.core.errors import OutputError
    from mvc.core.session import Session

    done = "; the change itself was made ('mvc audit' shows it)" if Session.committed else ""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError:
        pass
    return OutputError(f"cannot write the output to standard output ({exc.strerror or exc}){done}")


def piped() -> bool:
    """True when stdout is not a terminal: plain lines, and no rich."""
    return not sys.stdout.isatty()


def _escapes(keep: str) -> dict[int, str]:
    """How each of the characters no output shows as it is (names.UNSAFE_CHARACTERS) is
    written, but for those in ``keep``."""
    from mvc.core.names import UNSAFE_CHARACTERS

    codes = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in UNSAFE_CHARACTERS if chr(c) not in keep}
    codes.update({ord(c): e for c, e in (("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")) if c not in keep})
    return codes


_CELL = {ord("\\"): "\\\\", **_escapes("")}  # a value in a pipe: reversible
_LINE = _escapes("")  # a message: one line, backslashes as they are
_SCREEN = _escapes("\n")  # a value on a terminal: no escape sequences, line breaks kept
# a character that _CELL escapes, but for the tab and the newline that separate cells and lines
_NEEDS_ESCAPE = re.compile("[" + "".join(re.escape(chr(c)) for c in _CELL if chr(c) not in "\t\n") + "]")


def cell(value: Any) -> str:
    """One value as a pipe's column: escaped (see the module's docstring), ``-`` when empty
    or null (no git remote, say)."""
    text = value if isinstance(value, str) else "" if value is None else fmt_value(value)
    return text.translate(_CELL) if text else "-"


def printable(value: Any) -> str:
    """A value for a terminal: control characters escaped, line breaks kept, ``-`` when empty or null."""
    text = value if isinstance(value, str) else "" if value is None else fmt_value(value)
    return text.translate(_SCREEN) if text else "-"


def one_line(value: Any) -> str:
    """A name read from inside a file (a tensor, an archive member) or a path, as a table's or
    a field's value: on a terminal every control character, line break and bidi control
    escaped, so that a hostile name cannot start a row of its own or hide what follows it; in
    a pipe as it is, since cell() escapes it there (reversibly)."""
    text = value if isinstance(value, str) else fmt_value(value)
    return text if piped() else text.translate(_LINE)


def say(message: str) -> None:
    """One plain line for a human on stdout: no markup, so a path or a ref with brackets
    prints as it is, control characters escaped so that it stays one line, and no rich
    import for the commands that print only this."""
    sys.stdout.write(message.translate(_LINE) + "\n")


def line(*columns: Any) -> None:
    """One record of tab-separated columns, the same on a terminal and in a pipe (for
    output that scripts read, like ``mvc resolve``)."""
    sys.stdout.write("\t".join(cell(c) for c in columns) + "\n")


Cell = Any  # a value, or (value, rich style) for colour on a terminal


def _text(c: Cell) -> Any:
    return c[0] if isinstance(c, tuple) else c


def _lines(rows: list[list[Cell]]) -> str:
    """Records as a pipe's lines, each cell as cell() writes it. Fast for 100,000 records
    (mvc ls NAME): the plain cells are joined as they are, and escaped one by one only when
    the text shows that one of them needs it."""
    lines = ["\t".join([c if type(c) is str and c else cell(_text(c)) for c in row]) for row in rows]
    text = "\n".join(lines) + "\n"
    if (_NEEDS_ESCAPE.search(text) is None and text.count("\n") == len(rows)
            and text.count("\t") == sum(len(row) - 1 for row in rows if row)):
        return text
    return "".join("\t".join(cell(_text(c)) for c in row) + "\n" for row in rows)


def nothing(headers: list[str], message: str) -> None:
    """An empty list: in a pipe its header line alone (a loop reading records gets none, not a
    sentence to take for one); on a terminal ``message``, which says what to do."""
    if piped():
        table(headers, [])
    else:
        say(message)


def table(headers: list[str], rows: list[list[Cell]], title: str | None = None) -> None:
    """A list of records with a header line.

    In a pipe: tab-separated lines (``title`` is left out, it is for people). On a
    terminal: a borderless rich table as wide as the terminal allows, wrapping cells
    between words and never inside one, so that a digest or a path stays whole and can be
    copied; when even that does not fit, each record is shown as NAME VALUE lines, as
    psql's expanded display does."""
    if piped():
        sys.stdout.write(_lines([headers, *rows]))
        return
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    out = console()
    texts = [[printable(_text(c)) for c in row] for row in [headers, *rows]]
    columns = list(zip(*texts))
    natural = [max(cell_len(ln) for v in col for ln in v.split("\n")) for col in columns]
    floor = [max(cell_len(w) for v in col for w in v.split() or [""]) for col in columns]
    room = out.width - 2 * (len(headers) - 1)
    if title:
        out.print(Text(title, style="bold"))
    if sum(floor) > room:
        records(headers, rows)
        return
    widths = natural if sum(natural) <= room else _share(floor, natural, room)
    t = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold", show_edge=False)
    for h, w in zip(headers, widths):
        t.add_column(h, width=w, overflow="fold")
    for row, text_row in zip(rows, texts[1:]):
        t.add_row(*(Text(v, style=c[1]) if isinstance(c, tuple) else Text(v) for c, v in zip(row, text_row)))
    out.print(t)


def _share(floor: list[int], natural: list[int], room: int) -> list[int]:
    """Column widths: each at least its longest word, the space left shared out so that the
    columns that need least are filled first (water-filling)."""
    widths = list(floor)
    spare = room - sum(floor)
    order = sorted(range(len(floor)), key=lambda i: natural[i] - floor[i])
    for k, i in enumerate(order):
        give = min(natural[i] - floor[i], spare // (len(order) - k))
        widths[i] += give
        spare -= give
    return widths


def records(headers: list[str], rows: list[list[Cell]]) -> None:
    """Each row as NAME VALUE lines with a blank line between rows (terminal only)."""
    for i, row in enumerate(rows):
        if i:
            sys.stdout.write("\n")
        fields([(h, _text(c)) for h, c in zip(headers, row)])


def fields(pairs: list[tuple[str, Any]]) -> None:
    """Named values, one a line: ``NAME<TAB>VALUE`` in a pipe; on a terminal the names in
    bold and aligned, each value whole on its line (the terminal wraps a long one, so a
    digest is never broken by a line feed)."""
    if piped():
        for name, value in pairs:
            sys.stdout.write(f"{cell(name)}\t{cell(value)}\n")
        return
    from rich.text import Text

    out = console()
    width = max((len(name) for name, _ in pairs), default=0)
    for name, value in pairs:
        lines = printable(value).split("\n")
        text = Text.assemble((name.ljust(width), "bold"), "  " + ("\n" + " " * (width + 2)).join(lines))
        out.print(text, soft_wrap=True)


def tell(message: str) -> None:
    """``mvc: MESSAGE`` on stderr, one line whatever a path or a name in it holds: control
    characters, line breaks and bidi controls written visibly (``\\x1b``, ``\\n``,
    ``\\u202e``), so that a name cannot forge lines or hide what follows it."""
    try:
        sys.stderr.write(f"mvc: {message.translate(_LINE)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr's reader gone or closed (2>&1 | head): the exit status
        import os  # and a --json error document on stdout still say what happened

        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        except OSError:
            pass


def warn(message: str) -> None:
    tell(f"warning: {message}")


def error(message: str) -> None:
    """The error line of SPEC §4 (``--json`` keeps the exact text in its document)."""
    tell(f"error: {message}")


def short(digest: str) -> str:
    """``sha256:`` and 12 hex digits, for lists (ls, log): a prefix that works as a ref, and
    no ellipsis, so that it can be copied and pasted back."""
    return digest[:19] if digest else ""


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def fmt_value(value: Any) -> str:
    """A stored value as text, whole: a float as the shortest text that reads back as it."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list, bool)) or value is None:
        return json.dumps(value)
    return str(value)


def key_values(values: dict[str, Any]) -> str:
    """``k=v k=v``: a version's metrics in one cell of a list."""
    return " ".join([f"{k}={v!r}" if type(v) is float else f"{k}={fmt_value(v)}" for k, v in values.items()])


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
            from rich.progress import BarColumn, DownloadColumn, Progress as RichProgress, TextColumn

            self._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True),
                _speed_column(),
                console=console(stderr=True), transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total)
        self._bar.update(self._task, completed=self.done)

    def set_total(self, nbytes: int) -> None:
        """The whole of the work, once the engine knows it (a transfer, after planning)."""
        self.total = nbytes
        if self._bar is not None:
            self._bar.update(self._task, total=nbytes)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _speed_column():
    """Bytes a second in the units the results use (rich's TransferSpeedColumn is decimal)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class SpeedColumn(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("?" if speed is None else f"{human_size(int(speed))}/s", style="progress.data.speed")

    return SpeedColumn()
