"""Plot a model's metrics across its versions.

Each metric (--metric, default all) in a chart of its own, the versions in version order along
the x axis, and the versions that channels serve marked (by the channel's name in an image, by
its first letter in the terminal): drawn in the terminal (plain text in a pipe), or written as
an image with -o FILE.svg or -o FILE.png. --json prints the series. Needs the plot extra: pip install 'mvc[plot]' (matplotlib for -o, plotext for
the terminal).

EXAMPLES

    mvc plot resnet
    mvc plot resnet --metric accuracy -o resnet.svg
    mvc plot resnet --json
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption

FORMATS = (".svg", ".png")
_EXTRA = "pip install 'mvc[plot]'"
_PIPE_SIZE = (100, 14)  # columns, and rows per metric, of a chart in a pipe


def plot(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The model whose versions to plot.")],
    metric: Annotated[Optional[list[str]], typer.Option(
        "--metric", metavar="M", help="A metric to plot; repeat for more (default: every metric).")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", metavar="FILE", dir_okay=False,
        help="Write the chart to FILE instead: .svg or .png, by its suffix.")] = None,
    json_out: JsonOption = False,
) -> None:
    from mvc.cli.common import open_repo
    from mvc.cli.output import emit, say
    from mvc.core.errors import UserError

    if output is not None and output.suffix.lower() not in FORMATS:
        raise UserError(f"mvc plot writes .svg or .png files; {str(output)!r} has neither suffix "
                        "(e.g. -o chart.svg)")
    data = open_repo().series(name, metric)
    if not data.metrics and not json_out:
        raise UserError(f"model {name!r} has no metrics to plot; add versions with --metric K=V")
    if output is not None:
        write_image(data, output)
    if json_out:
        emit(data, True, None)
    elif output is not None:
        say(f"wrote {output} ({len(data.metrics)} metric{'s' * (len(data.metrics) != 1)}, "
            f"{len(data.versions)} versions)")
    else:
        emit(data, False, draw_text)


def _marks(data) -> list[tuple[str, str]]:
    """(channel, version) of each channel that serves a version."""
    return [(ch, v) for ch, v in data.channels.items() if v is not None]


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
        ys = [p["value"] for p in points]
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.2, label=metric, gid=f"series:{metric}")
        values = {p["version"]: p["value"] for p in points}
        for channel, version in _marks(data):
            if version in values:
                ax.plot([index[version]], [values[version]], marker="D", markersize=8, linestyle="none",
                        gid=f"channel:{channel}:{metric}", label=f"{channel} {version}")
                ax.annotate(channel, (index[version], values[version]), textcoords="offset points",
                            xytext=(0, 8), ha="center", fontsize=8)
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    step = max(1, len(index) // 30)
    bottom = axes[-1, 0]
    bottom.set_xticks(range(0, len(index), step))
    bottom.set_xticklabels(list(data.versions)[::step], rotation=45, ha="right", fontsize=8)
    bottom.set_xlabel("version")
    fig.suptitle(f"{data.model}: metrics by version")
    fig.tight_layout()
    fig.savefig(str(path), format=path.suffix.lower()[1:], metadata=_metadata(path))
    plt.close(fig)


def _metadata(path: Path) -> dict:
    # no creation date in the file, so that the same chart is the same bytes
    return {"Date": None} if path.suffix.lower() == ".svg" else {}


def draw_text(data) -> None:
    """The chart in the terminal through plotext: one chart per metric, the version numbers
    along the x axis, each channel's version marked and named in the legend. In a pipe (or
    with NO_COLOR) it is plain text, no escape codes, at a fixed size."""
    from mvc.core.errors import UserError

    try:
        import plotext
    except ImportError:
        raise UserError(f"drawing a chart in the terminal needs plotext: {_EXTRA}") from None
    tty = sys.stdout.isatty()
    fig = plotext.figure
    index = {v: i + 1 for i, v in enumerate(data.versions)}
    n = len(data.metrics)
    if n > 1:
        fig.subplots(n, 1)
    plain = not tty or bool(os.environ.get("NO_COLOR"))
    fig.theme("colorless" if plain else "simple")  # "simple": coloured lines on the terminal's own background
    plotext.terminal.limit(width=False, height=False)  # the size is set below
    if tty:
        import shutil

        columns, rows = shutil.get_terminal_size((_PIPE_SIZE[0], _PIPE_SIZE[1] + 2))
        width, height = columns, max(_PIPE_SIZE[1] * n, rows - 2)
    else:
        width, height = _PIPE_SIZE[0], _PIPE_SIZE[1] * n
    symbols: dict[str, str] = {}  # channel -> its one-letter mark, told apart
    for channel, _ in _marks(data):
        free = [c for c in (channel[:1].upper(), *"123456789#@") if c not in symbols.values()]
        symbols[channel] = free[0]
    for row, (metric, points) in enumerate(data.metrics.items(), start=1):
        sub = fig.subplot(row, 1) if n > 1 else fig
        line = sub.signal([index[p["version"]] for p in points], [p["value"] for p in points])
        line.lines()
        sub.draw(line)
        values = {p["version"]: p["value"] for p in points}
        for channel, version in _marks(data):
            if version in values:
                sub.draw(sub.signal([index[version]], [values[version]], marker=symbols[channel]))
        sub.title(f"{data.model} {metric}")
        shown = max(1, width // 14)
        step = max(1, -(-len(index) // shown))
        ticks = list(range(1, len(index) + 1, step))
        sub.ruler("x").ticks(ticks, [data.versions[i - 1] for i in ticks])
    fig.plot_size(width, height)
    chart = str(fig.build())
    if plain:
        chart = plotext.uncolorize(chart)
    key = "   ".join(f"{symbols[ch]} {ch} {v}" for ch, v in _marks(data))
    sys.stdout.write(chart.rstrip("\n") + "\n" + (f"marked: {key}\n" if key else ""))
