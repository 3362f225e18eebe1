"""mvc plot NAME [--metric M]... [-o FILE] [--json] (SPEC §3) and Repo.series: the series,
an SVG read back as XML, a PNG by its header, the chart as plain text in a pipe."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET

import pytest

from support import Mvc, module_repo, on_terminal, write

SVG = "{http://www.w3.org/2000/svg}"


LOSS = [1.0, 0.9, 0.8, 0.7, 0.6]
ACCURACY = [0.8, 0.81, 0.82, None, 0.84]


@pytest.fixture(scope="module")
def plotted(tmp_path_factory) -> Mvc:
    """m 0.1.0 .. 0.1.4 with accuracy (0.1.3 lacks it) and loss; production serves 0.1.2,
    staging 0.1.4."""
    repo = module_repo(tmp_path_factory)
    for i in range(5):
        metrics = ["--metric", f"loss={LOSS[i]}"] + ([] if i == 3 else ["--metric", f"accuracy={ACCURACY[i]}"])
        repo.add("m", f"v{i}".encode(), *metrics)
    repo("promote", "m@0.1.2", "production")
    repo("promote", "m@0.1.4", "staging")
    return repo


def test_json_is_the_series_in_version_order(plotted):
    out = plotted.json("plot", "m")
    assert out == {
        "model": "m",
        "versions": ["0.1.0", "0.1.1", "0.1.2", "0.1.3", "0.1.4"],
        "metrics": {
            "accuracy": [{"version": f"0.1.{i}", "value": ACCURACY[i]} for i in (0, 1, 2, 4)],
            "loss": [{"version": f"0.1.{i}", "value": LOSS[i]} for i in range(5)],
        },
        "channels": {"staging": "0.1.4", "production": "0.1.2"},
    }
    assert list(plotted.json("plot", "m", "--metric", "loss")["metrics"]) == ["loss"]
    from mvc import Repo

    with Repo.open(plotted.cwd) as r:
        assert r.series("m", ["loss"]).to_dict() == plotted.json("plot", "m", "--metric", "loss")


def _points(d: str) -> int:
    return len(re.findall(r"[ML]\s", d))


def test_svg_holds_a_series_per_metric_and_the_channel_marks(plotted):
    proc = plotted("plot", "m", "-o", "chart.svg")
    assert proc.stdout == "wrote chart.svg (2 metrics, 5 versions)\n" and proc.stderr == ""
    root = ET.parse(plotted.cwd / "chart.svg").getroot()
    groups = {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}
    for metric, n in (("accuracy", 4), ("loss", 5)):
        paths = list(groups[f"series:{metric}"].iter(f"{SVG}path"))
        assert _points(paths[0].get("d")) == n, metric
        assert f"channel:production:{metric}" in groups
    assert "channel:staging:loss" in groups and "channel:staging:accuracy" in groups
    texts = {"".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")}
    assert {"production", "staging", "0.1.0", "0.1.4", "accuracy", "loss"} <= texts


def test_png_by_its_header_and_size(plotted):
    plotted("plot", "m", "--metric", "accuracy", "-o", "out/chart.PNG", check=False)  # no such folder
    (plotted.cwd / "out").mkdir()
    plotted("plot", "m", "--metric", "accuracy", "-o", "out/chart.PNG")
    data = (plotted.cwd / "out" / "chart.PNG").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 400 and height >= 200 and len(data) > 5000


def test_a_pipe_gets_plain_text(plotted):
    proc = plotted("plot", "m")
    assert proc.stderr == "" and "\x1b" not in proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[0].strip() == "m accuracy" and any(line.strip() == "m loss" for line in lines)
    assert "0.1.0" in proc.stdout and "0.1.4" in proc.stdout
    assert lines[-1] == "marked: S staging 0.1.4   P production 0.1.2"
    assert max(len(line) for line in lines) <= 100
    assert proc.stdout == plotted("plot", "m").stdout  # the same chart every time


def test_a_terminal_gets_the_chart(plotted):
    shown = on_terminal(["plot", "m", "--metric", "loss"], plotted.cwd, plotted.env, 90)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert "m loss" in plain and "marked: S staging 0.1.4" in plain
    no_colour = on_terminal(["plot", "m", "--metric", "loss"], plotted.cwd, {**plotted.env, "NO_COLOR": "1"}, 90)
    assert "\x1b[" not in no_colour


def test_what_cannot_be_plotted_is_exit_1(plotted):
    assert "writes .svg or .png" in plotted.fail("plot", "m", "-o", "chart.jpg").stderr
    assert not (plotted.cwd / "chart.jpg").exists()
    proc = plotted.fail("plot", "m", "--metric", "acc")
    assert "model 'm' has no metric 'acc'; its metrics: accuracy, loss" in proc.stderr
    assert "unknown model 'n'" in plotted.fail("plot", "n").stderr
    plotted.add("bare", b"x")
    assert "no metrics to plot" in plotted.fail("plot", "bare").stderr
    assert plotted.json("plot", "bare")["metrics"] == {}


def test_a_missing_library_names_the_extra(plotted, tmp_path):
    blocked = tmp_path / "blocked"
    for name in ("matplotlib", "plotext"):
        write(blocked / name / "__init__.py", f"raise ImportError('no {name} here')\n")
    env = {"PYTHONPATH": str(blocked)}
    for args, library in ((["-o", "c.svg"], "matplotlib"), ([], "plotext")):
        proc = plotted.fail("plot", "m", *args, env=env)
        assert proc.stderr == f"mvc: error: {'writing a chart' if args else 'drawing a chart in the terminal'}" \
                              f" needs {library}: pip install 'mvc[plot]'\n"
    assert plotted("plot", "m", "--json", env=env).stdout.startswith("{")
