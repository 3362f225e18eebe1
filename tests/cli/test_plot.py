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
        "canaries": {"staging": None, "production": None},
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
    proc = plotted.fail("plot", "m", "--metric", "accuracy", "-o", "out/chart.PNG")
    assert "folder out does not exist" in proc.stderr
    (plotted.cwd / "out").mkdir()
    plotted("plot", "m", "--metric", "accuracy", "-o", "out/chart.PNG")
    data = (plotted.cwd / "out" / "chart.PNG").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 400 and height >= 200 and len(data) > 5000


def test_a_pipe_gets_the_data_as_a_plain_table(plotted):
    """SPEC §9: plain in a pipe, no box drawing: metric, version, value, who serves it."""
    proc = plotted("plot", "m")
    assert proc.stderr == ""
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert rows[0] == ["metric", "version", "value", "served by"]
    assert rows[1:] == [["accuracy", f"0.1.{i}", str(ACCURACY[i]), {2: "production", 4: "staging"}.get(i, "-")]
                        for i in (0, 1, 2, 4)] + \
                       [["loss", f"0.1.{i}", str(LOSS[i]), {2: "production", 4: "staging"}.get(i, "-")]
                        for i in range(5)]
    assert proc.stdout.isascii()


def test_a_terminal_gets_the_chart(plotted):
    shown = on_terminal(["plot", "m", "--metric", "loss"], plotted.cwd, plotted.env, 90)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert "m loss" in plain and "marked: S staging 0.1.4" in plain
    no_colour = on_terminal(["plot", "m", "--metric", "loss"], plotted.cwd, {**plotted.env, "NO_COLOR": "1"}, 90)
    assert "\x1b[" not in no_colour


def test_what_cannot_be_plotted_is_exit_1(plotted):
    assert "writes .svg or .png" in plotted.fail("plot", "m", "-o", "chart.jpg").stderr
    assert "'' has neither suffix" in plotted.fail("plot", "m", "-o", "").stderr
    assert not (plotted.cwd / "chart.jpg").exists()
    proc = plotted.fail("plot", "m", "--metric", "acc")
    assert "model 'm' has no metric 'acc'; its metrics: accuracy, loss" in proc.stderr
    # metric.NAME names NAME, as in ls --where/--sort
    assert plotted.json("plot", "m", "--metric", "metric.loss") == plotted.json("plot", "m", "--metric", "loss")
    assert "unknown model 'n'" in plotted.fail("plot", "n").stderr
    plotted.add("bare", b"x")
    assert "no metrics to plot" in plotted.fail("plot", "bare").stderr
    # --json alone said exit 0 with an empty series, against commands.md (probe V)
    proc = plotted.fail("plot", "bare", "--json")
    assert "no metrics to plot" in proc.stderr and '"type": "invalid"' in proc.stdout
    # with -o, no metrics is the same error with --json (it was an internal error from matplotlib)
    proc = plotted.fail("plot", "bare", "-o", "bare.png", "--json")
    assert "no metrics to plot" in proc.stderr and '"type": "invalid"' in proc.stdout
    assert not (plotted.cwd / "bare.png").exists()


def test_a_chart_goes_only_to_a_regular_file(plotted, tmp_path):
    """-o on a FIFO blocked forever; a folder or FIFO there is refused at once, exit 1."""
    import os

    fifo = tmp_path / "chart.svg"
    os.mkfifo(fifo)
    assert "it is a FIFO (named pipe)" in plotted.fail("plot", "m", "-o", str(fifo)).stderr
    (tmp_path / "dir.png").mkdir()
    assert "it is a folder" in plotted.fail("plot", "m", "-o", str(tmp_path / "dir.png")).stderr
    old = write(tmp_path / "old.svg", b"old")
    plotted("plot", "m", "-o", str(old))  # a regular file is replaced, whole
    assert old.read_bytes().startswith(b"<?xml")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_a_missing_library_names_the_extra(plotted, tmp_path):
    blocked = tmp_path / "blocked"
    for name in ("matplotlib", "plotext"):
        write(blocked / name / "__init__.py", f"raise ImportError('no {name} here')\n")
    env = {"PYTHONPATH": str(blocked)}
    proc = plotted.fail("plot", "m", "-o", "c.svg", env=env)
    assert proc.stderr == "mvc: error: writing a chart needs matplotlib: pip install 'mvc[plot]'\n"
    assert plotted("plot", "m", "--json", env=env).stdout.startswith("{")
    assert plotted("plot", "m", env=env).stdout.startswith("metric\t")  # a pipe's table needs neither


def test_canaries_extreme_and_constant_values_chart_quietly(tmp_path_factory):
    """A canary serves too (SPEC §1): in --json, the pipe's table, the image and the chart.
    Values add accepts (+-1.7e308) chart on a scaled axis; a single point or constant values
    chart without plotext's notes or RuntimeWarnings on stderr."""
    repo = module_repo(tmp_path_factory)
    for i, v in enumerate(("1.7e308", "-1.7e308", "0.5")):
        repo.add("m", f"x{i}".encode(), "--metric", f"big={v}", "--metric", "same=1")
    repo("promote", "m@0.1.0", "production")
    repo("canary", "start", "m@0.1.2", "--channel", "production", "--percent", "10")
    out = repo.json("plot", "m")
    assert out["canaries"] == {"staging": None, "production": {"version": "0.1.2", "percent": 10}}
    rows = repo("plot", "m", "--metric", "big").stdout.splitlines()
    assert rows[1:] == ["big\t0.1.0\t1.7e+308\tproduction", "big\t0.1.1\t-1.7e+308\t-",
                        "big\t0.1.2\t0.5\tproduction canary 10%"]
    for name in ("c.svg", "c.png"):
        proc = repo("plot", "m", "-o", name)
        assert proc.stderr == "" and proc.stdout.startswith(f"wrote {name}")
    root = ET.parse(repo.cwd / "c.svg").getroot()
    ids = {g.get("id") for g in root.iter(f"{SVG}g")}
    assert {"channel:production:big", "canary:production:big", "series:same"} <= ids
    for env in ({}, {"NO_COLOR": "1"}):
        shown = on_terminal(["plot", "m"], repo.cwd, {**repo.env, **env}, 90)
        plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
        assert "m big (x1e308)" in plain and "m same" in plain
        assert "marked: P production 0.1.0   p production canary 10% 0.1.2" in plain
        assert "warning" not in plain.lower() and "too close" not in plain and "Traceback" not in plain
    repo.add("one", b"1", "--metric", "acc=0.9")
    shown = on_terminal(["plot", "one"], repo.cwd, {**repo.env, "NO_COLOR": "1"}, 90)
    assert "one acc" in shown and "\x1b[" not in shown and "too close" not in shown
