"""Output for people and for pipes (SPEC §9): in a pipe every command prints plain lines, one
record per line, tab-separated columns, nothing wrapped or cut, the same at any width; on a
terminal tables fit the width and never break a digest."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import Mvc, model_dir, on_terminal, write
from tensorfiles import write_safetensors

LONG = "x" * 150 + "-" + "y" * 150  # one word longer than any terminal
BIG = "123456789012.34567"  # a metric whose digits must all survive
BOX = re.compile("[\u2500-\u257f]")
ANSI = re.compile(r"\x1b\[")


def _tensors(path: Path, **tensors: tuple[str, list[int], bytes]) -> None:
    write_safetensors(path, tensors)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Mvc:
    """One repository for the whole module: versions, tags, metrics with long values, a
    directory artifact, lineage, promotions, a canary, a remote and an access grant."""
    root = tmp_path_factory.mktemp("output")
    (root / "home").mkdir()
    (root / "work").mkdir()
    mvc = Mvc(root / "work", root / "home")
    work = mvc.cwd
    said = [mvc("init").stdout]
    _tensors(work / "net.safetensors", w=("F32", [2], bytes(8)), b=("F32", [2], bytes(8)))
    said.append(mvc("add", "net.safetensors", "--name", "net", "--metric", "accuracy=0.9",
                    "--metric", "loss=0.3", "--param", "lr=0.1", "--param", "note=a\tb",
                    "--param", f"long={LONG}", "-m", "first\nline", "--tag", "best").stdout)
    _tensors(work / "net.safetensors", w=("F32", [2], bytes(range(8))), b=("F32", [3], bytes(12)),
             extra=("F32", [1], bytes(4)))
    write(work / "train.csv", "a,b\n1,2\n")
    write(work / "train.py", "print('train')\n")
    said.append(mvc("add", "net.safetensors", "--name", "net", "--metric", "accuracy=0.97",
                    "--metric", "loss=0.35", "--metric", f"big={BIG}", "--param", "lr=0.01",
                    "--data", "train.csv", "--code", "train.py", "-m", "second").stdout)
    said.append(mvc("add", "net.safetensors", "--name", "net", "--metric", "accuracy=0.98",
                    "--force").stdout)
    model_dir(work / "dm")
    write(work / "dm" / "odd\tname.txt", "tab in a file name")
    said.append(mvc("add", "dm", "--name", "dirm").stdout)
    said.append(mvc("tag", "net@0.1.1", "paper-2026").stdout)
    said.append(mvc("promote", "net@0.1.0", "production", "-m", "first release").stdout)
    said.append(mvc("promote", "net@0.1.1", "production").stdout)
    said.append(mvc("canary", "start", "net@0.1.2", "--channel", "production", "--percent", "30").stdout)
    said.append(mvc("remote", "add", "origin", str(root / "remote")).stdout)
    said.append(mvc("push").stdout)
    said.append(mvc("checkout", "net@0.1.0", "-o", "out.safetensors").stdout)
    said.append(mvc("access", "grant", "tester@example.com", "admin").stdout)
    mvc.said = said
    return mvc


PIPED = [
    ["ls"], ["ls", "net"], ["ls", "dirm"], ["show", "net@0.1.1"], ["show", "dirm"], ["log"],
    ["log", "net"], ["log", "net", "--channel", "production"], ["diff", "net@0.1.0", "net@0.1.1"],
    ["lineage", "net@0.1.1"], ["lineage", "train.csv"], ["tag", "net"], ["audit"], ["access", "list"],
    ["canary", "status", "net", "--channel", "production"], ["resolve", "net"], ["remote", "list"],
    ["verify"], ["fsck"], ["config", "list"], ["config", "list", "--all"], ["gc", "--dry-run"],
]


def _plain(text: str, what) -> None:
    assert not BOX.search(text), (what, text)
    assert "…" not in text and not ANSI.search(text) and "\r" not in text, (what, text)
    for line in text.splitlines():
        assert line == line.rstrip(" \t"), (what, line)
        assert line, (what, text)  # no blank lines between records


def test_every_command_prints_the_same_plain_lines_at_any_width(built):
    for args in PIPED:
        narrow = built(*args, env={"COLUMNS": "20"}).stdout
        wide = built(*args, env={"COLUMNS": "300"}).stdout
        assert narrow == wide, args
        _plain(narrow, args)
    for out in built.said:  # the one-line reports of the commands that change something
        _plain(out, out)
        assert LONG not in out


def _rows(out: str) -> list[list[str]]:
    rows = [line.split("\t") for line in out.splitlines()]
    assert len({len(r) for r in rows}) == 1, out  # as many columns in every line as in the header
    return rows


@pytest.mark.parametrize("args, count", [
    (["ls"], len), (["ls", "net"], len), (["log"], len), (["log", "net"], len),
    (["log", "net", "--channel", "production"], len), (["tag", "net"], len), (["audit"], len),
    (["access", "list"], len), (["remote", "list"], len),
])
def test_lists_are_a_header_and_one_tab_separated_line_a_record(built, args, count):
    rows = _rows(built(*args).stdout)
    assert len(rows) == 1 + count(built.json(*args)), args
    assert all(rows[0]), rows[0]


def test_lists_show_a_short_digest_without_ellipsis(built):
    versions = {v["ref"]: v["digest"] for v in built.json("ls", "net")}
    for args in (["ls", "net"], ["log", "net"]):
        rows = _rows(built(*args).stdout)
        col = rows[0].index("digest")
        for row in rows[1:]:
            assert re.fullmatch(r"sha256:[0-9a-f]{12}", row[col]) and versions[row[0]].startswith(row[col])


def test_show_prints_whole_values_as_name_tab_value(built):
    info = built.json("show", "net@0.1.1")
    lines = built("show", "net@0.1.1").stdout.splitlines()
    pairs = [line.split("\t") for line in lines]
    assert all(len(p) == 2 for p in pairs), lines
    shown = dict(pairs)
    assert shown["digest"] == info["digest"] and shown["metric big"] == BIG
    data = info["lineage"]["data"][0]
    assert shown["data"] == f"{data['path']} ({data['digest']})"
    first = dict(line.split("\t") for line in built("show", "net@0.1.0").stdout.splitlines())
    # a tab or a line feed inside a value is escaped, so a record stays one line
    assert first["message"] == "first\\nline" and first["param note"] == "a\\tb"
    assert first["param long"] == LONG


def test_show_lists_a_directory_s_files_as_records(built):
    info = built.json("show", "dirm")
    files = [line.split("\t") for line in built("show", "dirm").stdout.splitlines() if line.startswith("file\t")]
    expected = [["file", e["path"].replace("\t", "\\t"), str(e["size"]), e.get("digest") or "-> " + e["target"]]
                for e in info["files"]]
    assert files == expected and any("odd\\tname.txt" in f[1] for f in files)


def test_diff_prints_one_record_a_line(built):
    d = built.json("diff", "net@0.1.0", "net@0.1.1")
    lines = built("diff", "net@0.1.0", "net@0.1.1").stdout.splitlines()
    records = [line.split("\t") for line in lines]
    assert records[:2] == [["a", "net@0.1.0"], ["b", "net@0.1.1"]]
    metrics = {r[1]: r[2:] for r in records if r[0] == "metric"}
    assert metrics["accuracy"] == ["0.9", "0.97", "+0.07", "better"]
    assert metrics["loss"] == ["0.3", "0.35", "+0.05", "worse"]
    assert metrics["big"] == ["-", BIG, "-", "only in B"]
    params = {r[1]: r[2:] for r in records if r[0] == "param"}
    assert params["lr"] == ["0.1", "0.01", "changed"]
    assert params["note"] == ["a\\tb", "-", "removed"] and params["long"] == [LONG, "-", "removed"]
    assert ["file", "net.safetensors", "changed"] in records
    tensors = {r[2]: r[3] for r in records if r[:2] == ["tensor", "net.safetensors"]}
    assert tensors == {"w": "changed", "extra": "added", "b": "reshaped F32[2] -> F32[3]"}
    assert ["recommendation", d["recommendation"]] == records[-1]


def test_lineage_tree_in_a_pipe_has_no_guides_and_whole_digests(built):
    out = built("lineage", "train.csv").stdout
    node = built.json("lineage", "train.csv")["node"]
    assert out.splitlines()[0] == f"data train.csv ({node.split(':', 1)[1]})"
    assert "    downstream (built on it)\n        net@0.1.1\n" in out


def test_a_pipe_does_not_import_rich(built):
    code = ("import sys; from mvc.cli.app import run; rc = run(sys.argv[1:]); "
            "sys.stderr.write(' '.join(m for m in sys.modules if m.split('.')[0] == 'rich')); sys.exit(rc)")
    for args in (["ls", "net"], ["show", "dirm"], ["log"], ["audit"], ["diff", "net@0.1.0", "net@0.1.1"],
                 ["lineage", "net@0.1.1"], ["tag", "net"], ["log", "net", "--channel", "production"]):
        proc = subprocess.run([sys.executable, "-c", code, *args], cwd=built.cwd, env=built.env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and proc.stderr == "", (args, proc.stderr)


def test_reading_commands_load_only_what_they_use(built):
    """Start-up is mostly imports: the commands that only read the registry (ls, show, log) load
    the result classes of their own command only, and neither OpenSSL's hashlib nor tempfile,
    which only commands that write or hash files need (each ~2-3 ms of every start)."""
    code = ("import sys; from mvc.cli.app import run; rc = run(sys.argv[1:]); "
            "sys.stderr.write(' '.join(sorted(m for m in sys.modules if m in ('_hashlib', 'tempfile') "
            "or m.startswith('mvc.results.')))); sys.exit(rc)")
    for args, results in ((["ls"], "listing"), (["ls", "net"], "listing"), (["log"], "listing"),
                          (["show", "net@0.1.1"], "version")):
        proc = subprocess.run([sys.executable, "-c", code, *args], cwd=built.cwd, env=built.env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and proc.stderr == f"mvc.results.{results}", (args, proc.stderr)


def _terminal(mvc: Mvc, args: list[str], columns: int) -> str:
    return on_terminal(args, mvc.cwd, dict(mvc.env, TERM="xterm-256color"), columns).replace("\r\n", "\n")


@pytest.mark.parametrize("columns", [60, 100, 200])
def test_a_narrow_terminal_never_breaks_a_digest(built, columns):
    info = built.json("show", "net@0.1.1")
    digest, data = info["digest"], info["lineage"]["data"][0]
    events = [e for e in built.json("audit") if "digest" in e["details"]]
    for args, wanted in ((["show", "net@0.1.1"], [digest]), (["audit"], [e["details"]["digest"] for e in events]),
                         (["show", "dirm"], [f["digest"] for f in built.json("show", "dirm")["files"] if "digest" in f]),
                         (["lineage", "net@0.1.1"], [data["digest"]])):
        out = _terminal(built, args, columns)
        assert "…" not in out, (args, out)
        for d in wanted:
            assert d in out, (args, columns, d, out)
    out = _terminal(built, ["ls", "net"], columns)
    assert all(v["digest"][:19] in out for v in built.json("ls", "net"))


def test_a_wide_terminal_shows_a_table(built):
    out = re.sub(r"\x1b\[[0-9;]*m", "", _terminal(built, ["ls", "net"], 200))
    assert re.search(r"ref +digest +state", out)
    assert "\t" not in out and not BOX.search(out)


def test_progress_counts_bytes_in_binary_units():
    from mvc.cli import output

    progress = output.Progress("copying", total=3 * 2**30)
    progress.enabled, progress.start = True, 0.0  # a bar at once, as on a terminal after 0.5 s
    try:
        progress(2**30)
        bar = progress._bar
        task = bar.tasks[0]
        shown = " ".join(str(column.render(task)) for column in bar.columns[2:])
    finally:
        progress.close()
    assert "1.0/3.0 GiB" in shown and re.search(r"(\?|iB/s)$", shown), shown
    assert "GB" not in shown.replace("GiB", ""), shown


def test_a_value_in_a_pipe_is_escaped_reversibly():
    from mvc.cli.output import cell

    assert cell("a\tb\nc\rd\\e\x1bf\u2028g") == "a\\tb\\nc\\rd\\\\e\\x1bf\\u2028g"
    assert cell("") == "-" and cell(0.1) == "0.1" and cell(123456789012.5) == "123456789012.5"


def test_an_empty_list_says_so_on_a_terminal_and_is_its_header_alone_in_a_pipe(repo):
    """SPEC §9: in a pipe, one record per line; a sentence on stdout ('no models yet; ...')
    read as a record by a 'while read' loop (probe V)."""
    from support import on_terminal

    assert "no remotes; add one with 'mvc remote add NAME URL'" in on_terminal(["remote", "list"], repo.cwd, repo.env)
    assert "no models yet" in on_terminal(["ls"], repo.cwd, repo.env)
    assert repo("remote", "list").stdout == "remote\turl\tdefault\n"
    assert repo("ls").stdout == "model\tversions\tlatest\tstaging\tproduction\n"  # the columns ls has later
    assert repo("access", "list").stdout == "user\trole\tgranted by\tgranted at\n"
    repo.add("m", b"x")
    assert repo("tag", "m").stdout == "tag\tref\n"
    assert repo("tag", "n", check=False).returncode == 1  # an unknown model is an error, not an empty list


def test_the_fast_writers_write_what_json_and_cell_write():
    """records_json (ls NAME --json of 100,000 versions, lineage --json of 18,600 nodes) is
    json.dumps(indent=2) byte for byte, and a pipe's lines are cell() by cell, whatever the
    values hold."""
    import json
    import random

    from mvc.cli.json_text import columns_json, records_json
    from mvc.cli.output import _lines, cell

    rnd = random.Random(11)
    scalars = ["", "a\tb\n", "é\u2028\"\\%s", "%", 0, -5, 10**30, 1.5, 1e-300, True, False, None]
    for _ in range(400):
        keys = [rnd.choice(["a", "é", "\n", '"', "%"]) + str(i) for i in range(rnd.randint(1, 4))]
        rows = [{k: rnd.choice([rnd.choice(scalars), [rnd.choice(scalars)] * rnd.randint(0, 2),
                                {rnd.choice(["m", "%t"]): rnd.choice(scalars)}]) for k in keys[:rnd.randint(0, 4)]}
                for _ in range(rnd.randint(1, 4))]
        for doc in (rows, {keys[0]: rows, "n": rnd.choice(scalars), "list": [rnd.choice(scalars)] * rnd.randint(0, 2)}):
            fast = records_json(doc)
            assert fast is None or fast == json.dumps(doc, indent=2, ensure_ascii=False), doc
        # one set of keys, as columns (ls NAME --json), each key's values of one kind: scalars,
        # texts that need no escapes, lists, dicts all with keys or some empty
        kinds = [lambda: rnd.choice(scalars), lambda: rnd.choice(["ok", "é ü", "1.0.0"]),
                 lambda: [rnd.choice(scalars)] * rnd.randint(0, 2),
                 lambda: rnd.choice([{rnd.choice(["m", "%t"]): rnd.choice(scalars), "n": 1}, {}])]
        kind = {k: rnd.choice(kinds) for k in keys}
        same = [{k: kind[k]() for k in keys} for _ in range(rnd.randint(1, 4))]
        assert columns_json({k: [r[k] for r in same] for k in keys}) == json.dumps(same, indent=2, ensure_ascii=False)
        lines = [[rnd.choice([*scalars, ("x", "bold"), "\x00", "ok"]) for _ in keys] for _ in rows]
        assert _lines(lines) == "".join("\t".join(cell(c[0] if isinstance(c, tuple) else c) for c in row) + "\n"
                                        for row in lines)
    assert records_json([{"a": [[1]]}]) is None and records_json({"a": {"b": 1}}) is None
    assert columns_json({"a": [[[1]]]}) is None and columns_json({"a": []}) is None
    for doc in ([{"ref": "m@1.0.0", "tags": [], "metrics": {"acc": 0.5}}], [{"a": 1}, {"b": [2]}, {}],
                {"node": "x", "up": [], "down": ["a", "b"], "nodes": [{"id": "a"}, {"id": "b", "size": None}]}):
        assert records_json(doc) == json.dumps(doc, indent=2, ensure_ascii=False), doc


def test_a_line_break_in_a_path_or_a_param_stays_on_its_line_on_a_terminal(repo, work):
    """A data file named 'd<LF>fake.csv' and a param 'lr=1<LF>fake': on a terminal the
    lineage tree printed the rest of the name at the start of a line of its own, outside the
    tree, and show and diff put the param's rest on a line below (probe H). They are escaped
    as \\n there, as in a pipe and as show already did for the path."""
    write(work / "a.bin", b"A")
    repo("add", "a.bin", "--name", "m", "--param", "lr=1")
    write(work / "d\nfake.csv", b"x")
    write(work / "a.bin", b"B")
    repo("add", "a.bin", "--name", "m", "--data", "d\nfake.csv", "--param", "lr=1\nfake")
    write(work / "a.bin", b"C")
    repo("add", "a.bin", "--name", "m", "--param", "lr=2")
    for args, wanted in ((["lineage", "m@0.1.1"], "d\\nfake.csv"), (["show", "m@0.1.1"], "1\\nfake"),
                         (["diff", "m@0.1.0", "m@0.1.1"], "1\\nfake"),
                         (["diff", "m@0.1.0", "m@0.1.1", "m@0.1.2"], "1\\nfake")):
        out = re.sub(r"\x1b\[[0-9;]*m", "", _terminal(repo, [*args], 200))
        assert wanted in out, (args, out)
        assert not any(ln.lstrip().startswith("fake") for ln in out.splitlines()), (args, out)
