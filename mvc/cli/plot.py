"""Plot a model's metrics across its versions.

Each metric (--metric, default all) in a chart of its own, the versions in version order along
the x axis, and the versions that channels serve, stable or canary, marked (by the channel's
name in an image, by its first letter in the terminal, lower case for a canary): drawn in the
terminal; in a pipe a plain table instead (metric, version, value, the channels that serve
it); or written as an image with -o FILE.svg or -o FILE.png. --json prints the series. Needs
the plot extra: pip install 'mvc[plot]' (matplotlib for -o, plotext for the terminal).

EXAMPLES

    mvc plot resnet
    mvc plot resnet --metric accuracy -o resnet.svg
    mvc plot resnet --json
"""

import contextlib
import io
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption, Words


class _File(Words):
    """A file name kept as typed (so that an error can show ``''``), completed as a file."""

    file_okay, dir_okay = True, False

FORMATS = (".svg", ".png")
_EXTRA = "pip install 'mvc[plot]'"
_SIZE = (100, 14)  # columns, and rows per metric, when the terminal does not say


def plot(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The model whose versions to plot.")],
    metric: Annotated[Optional[list[str]], typer.Option(
        "--metric", metavar="M",
        help="A metric to plot (NAME or metric.NAME, as in ls); repeat for more (default: every metric).")] = None,
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", metavar="FILE", click_type=_File(),
        help="Write the chart to FILE instead: .svg or .png, by its suffix.")] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo
    from mvc.cli.output import emit, say
    from mvc.core.errors import UserError

    if output is not None and (not output or Path(output).suffix.lower() not in FORMATS):
        raise UserError(f"mvc plot writes .svg or .png files; {output!r} has neither suffix "
                        "(e.g. -o chart.svg)")
    if output is not None:
        _check_target(Path(output))
    data = open_repo().series(name, metric)
    if not data.metrics:  # with --json too: a flag changes the output's form, never the exit code
        raise UserError(f"model {name!r} has no metrics to plot; add versions with --metric K=V")
    if output is not None:
        write_image(data, Path(output))
    if json_out:
        emit(data, True, None)
    elif output is not None:
        say(f"wrote {output} ({len(data.metrics)} metric{'s' * (len(data.metrics) != 1)}, "
            f"{len(data.versions)} versions)")
    else:
        emit(data, False, draw_text)


def _check_target(path: Path) -> None:
    """-o names a new file or a regular one to replace; a FIFO, device or folder there is
    refused before any work (a FIFO held the write forever)."""
    import stat

    from mvc.core.errors import UserError
    from mvc.core.inputs import kind_of

    if not path.absolute().parent.is_dir():
        raise UserError(f"cannot write the chart to {path}: folder {path.parent} does not exist")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(f"cannot write the chart to {path} ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else kind_of(mode)
        raise UserError(f"cannot write the chart to {path}: it is {what}; name a new .svg or .png file")


def _marks(data) -> list[tuple[str, str, str]]:
    """(channel, version, label) of each version a channel serves: its stable version
    (label the channel) and its canary (label "CHANNEL canary P%"), SPEC §1."""
    marks = [(ch, v, ch) for ch, v in data.channels.items() if v is not None]
    marks += [(ch, c["version"], f"{ch} canary {c['percent']}%") for ch, c in data.canaries.items() if c]
    return marks


def _scaled(values: list[float]) -> tuple[list[float], str]:
    """Values a plotting library can span, and the axis label's note: beyond 1e100 (where
    max - min may overflow a float: 1.7e308 - -1.7e308) they are divided by a power of ten,
    shown as "x1eN"."""
    top = max((abs(v) for v in values), default=0.0)
    if top < 1e100:
        return list(values), ""
    exponent = int(math.floor(math.log10(top)))
    return [v / 10.0 ** exponent for v in values], f" (x1e{exponent})"


def write_image(data, path: Path) -> None:
    """The chart as SVG or PNG through matplotlib (Agg: no display needed). In the SVG every
    series is a group whose id is ``series:METRIC`` and every channel mark
    ``channel:CHANNEL:METRIC``; text stays text (svg.fonttype none)."""
    from mvc.core.errors import UserError

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError(f"writing a chart needs matplotlib: {_EXTRA}") from None
    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["svg.hashsalt"] = "mvc"  # the same chart gives the same file
    index = {v: i for i, v in enumerate(data.versions)}
    n = len(data.metrics)
    fig, axes = plt.subplots(n, 1, sharex=True, squeeze=False, figsize=(min(20.0, max(6.0, 0.35 * len(index))), 2.6 * n + 0.8))
    for ax, (metric, points) in zip(axes[:, 0], data.metrics.items()):
        xs = [index[p["version"]] for p in points]
        ys, note = _scaled([p["value"] for p in points])
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.2, label=metric, gid=f"series:{metric}")
        values = dict(zip((p["version"] for p in points), ys))
        for channel, version, label in _marks(data):
            if version in values:
                canary = label != channel
                ax.plot([index[version]], [values[version]], marker="v" if canary else "D", markersize=8,
                        linestyle="none", label=f"{label} {version}",
                        gid=f"{'canary' if canary else 'channel'}:{channel}:{metric}")
                ax.annotate(label, (index[version], values[version]), textcoords="offset points",
                            xytext=(0, -14 if canary else 8), ha="center", fontsize=8)
        ax.set_ylabel(metric + note)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    step = max(1, len(index) // 30)
    bottom = axes[-1, 0]
    bottom.set_xticks(range(0, len(index), step))
    bottom.set_xticklabels(list(data.versions)[::step], rotation=45, ha="right", fontsize=8)
    bottom.set_xlabel("version")
    fig.suptitle(f"{data.model}: metrics by version")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a library's RuntimeWarning is no message for the user
        fig.tight_layout()
        image = io.BytesIO()
        fig.savefig(image, format=path.suffix.lower()[1:], metadata=_metadata(path))
    plt.close(fig)
    from mvc.core.atomic import write_atomic

    try:  # whole or not at all: a reader (a CI artifact upload) never sees half a chart
        write_atomic(path, image.getvalue())
    except OSError as exc:
        raise UserError(f"cannot write the chart to {path} ({exc.strerror or exc})") from None


def _metadata(path: Path) -> dict:
    # no creation date in the file, so that the same chart is the same bytes
    return {"Date": None} if path.suffix.lower() == ".svg" else {}


def draw_text(data) -> None:
    """On a terminal, the chart; in a pipe, the data as a plain table."""
    if sys.stdout.isatty():
        draw_chart(data)
    else:
        from mvc.cli.output import table

        served: dict[str, list[str]] = {}
        for _, version, label in _marks(data):
            served.setdefault(version, []).append(label)
        table(["metric", "version", "value", "served by"],
              [[metric, p["version"], p["value"], ", ".join(served.get(p["version"], []))]
               for metric, points in data.metrics.items() for p in points])


def draw_chart(data) -> None:
    """The chart in the terminal through plotext: one chart per metric, the version numbers
    along the x axis, each channel's versions marked (its first letter, lower case for its
    canary) and named under the chart. With NO_COLOR, no escape codes. plotext's own notes
    (e.g. values too close together to tell apart) are not shown."""
    import shutil

    from mvc.core.errors import UserError

    try:
        import plotext
    except ImportError:
        raise UserError(f"drawing a chart in the terminal needs plotext: {_EXTRA}") from None
    fig = plotext.figure
    n = len(data.metrics)
    if n > 1:
        fig.subplots(n, 1)
    plain = bool(os.environ.get("NO_COLOR"))
    fig.theme("colorless" if plain else "simple")  # "simple": coloured lines on the terminal's own background
    plotext.terminal.limit(width=False, height=False)  # the size is set below
    columns, rows = shutil.get_terminal_size((_SIZE[0], _SIZE[1] + 2))
    width, height = columns, max(_SIZE[1] * n, rows - 2)
    symbols: dict[str, str] = {}  # label -> its one-letter mark, told apart
    for channel, _, label in _marks(data):
        first = channel[:1].lower() if label != channel else channel[:1].upper()
        free = [c for c in (first, *"123456789#@") if c not in symbols.values()]
        symbols[label] = free[0]
    quiet = contextlib.ExitStack()  # plotext's notes go to stderr, coloured, as it draws
    quiet.enter_context(contextlib.redirect_stderr(io.StringIO()))
    quiet.enter_context(warnings.catch_warnings())
    with quiet:
        warnings.simplefilter("ignore")
        for row, (metric, points) in enumerate(data.metrics.items(), start=1):
            _draw_metric(fig.subplot(row, 1) if n > 1 else fig, data, metric, points, symbols, width)
        fig.plot_size(width, height)
        chart = str(fig.build())
    if plain:
        chart = plotext.uncolorize(chart)
    key = "   ".join(f"{symbols[label]} {label} {v}" for _, v, label in _marks(data))
    sys.stdout.write(chart.rstrip("\n") + "\n" + (f"marked: {key}\n" if key else ""))


def _draw_metric(sub, data, metric: str, points, symbols: dict[str, str], width: int) -> None:
    index = {v: i + 1 for i, v in enumerate(data.versions)}
    ys, note = _scaled([p["value"] for p in points])
    line = sub.signal([index[p["version"]] for p in points], ys)
    line.lines()
    sub.draw(line)
    values = dict(zip((p["version"] for p in points), ys))
    for _, version, label in _marks(data):
        if version in values:
            sub.draw(sub.signal([index[version]], [values[version]], marker=symbols[label]))
    sub.title(f"{data.model} {metric}{note}")
    shown = max(1, width // 14)
    step = max(1, -(-len(index) // shown))
    ticks = list(range(1, len(index) + 1, step))
    sub.ruler("x").ticks(ticks, [data.versions[i - 1] for i in ticks])
