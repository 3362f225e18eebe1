"""The lineage graph on real registries: chains, fan-outs, depth, paths, the lineage file."""

from __future__ import annotations

import json

import pytest

from mvc.core import lineage, lineage_file
from mvc.core.errors import NotFoundError

from apirepo import api_repo


@pytest.fixture
def repo(tmp_path, monkeypatch):
    r = api_repo(tmp_path, monkeypatch)
    yield r
    r.close()


def D(repo, path):
    from mvc.core import artifacts

    return artifacts.hash_path(path, repo.cache)[0]


@pytest.fixture
def graph(repo, tmp_path):
    """data.csv -> a@0.1.0 -> a@0.1.1 -> a@0.1.2 (chain), data.csv -> b@0.1.0 (fan-out),
    train.py -> a@0.1.0, dataset/ (a directory) -> b@0.1.0, a@0.1.1 -> b@0.1.0."""
    (tmp_path / "data.csv").write_text("x\n1\n")
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "part-0").write_text("rows")
    for i in range(3):
        (tmp_path / "a.bin").write_bytes(b"a%d" % i)
        repo.add(tmp_path / "a.bin", name="a", data=[tmp_path / "data.csv"] if i == 0 else [],
                 code=[tmp_path / "train.py"] if i == 0 else [], parents=[f"a@0.1.{i - 1}"] if i else [])
    (tmp_path / "b.bin").write_bytes(b"b")
    repo.add(tmp_path / "b.bin", name="b", data=[tmp_path / "data.csv", tmp_path / "dataset"], parents=["a@0.1.1"])
    return {
        "data": "data:" + D(repo, tmp_path / "data.csv"),
        "dir": "data:" + D(repo, tmp_path / "dataset"),
        "code": "code:" + D(repo, tmp_path / "train.py"),
    }


def test_chain_upstream_and_downstream(repo, graph):
    r = repo.lineage("a@0.1.2").to_dict()
    assert r["node"] == "model:a@0.1.2"
    assert set(r["upstream"]) == {"model:a@0.1.1", "model:a@0.1.0", graph["data"], graph["code"]}
    assert r["upstream"][:2] == ["model:a@0.1.1", "model:a@0.1.0"]  # nearest first
    assert r["downstream"] == []
    assert {(e["source"], e["target"], e["type"]) for e in r["edges"]} == {
        ("model:a@0.1.1", "model:a@0.1.2", "parent"), ("model:a@0.1.0", "model:a@0.1.1", "parent"),
        (graph["data"], "model:a@0.1.0", "data"), (graph["code"], "model:a@0.1.0", "code"),
    }
    types = {n["id"]: n["type"] for n in r["nodes"]}
    assert types[graph["data"]] == "data" and types[graph["code"]] == "code" and types["model:a@0.1.2"] == "model"


def test_fan_out_from_a_data_file_by_path(repo, graph, tmp_path):
    r = repo.lineage(str(tmp_path / "data.csv"), upstream=False).to_dict()
    assert r["node"] == graph["data"] and r["upstream"] == []
    assert set(r["downstream"]) == {"model:a@0.1.0", "model:a@0.1.1", "model:a@0.1.2", "model:b@0.1.0"}
    node = next(n for n in r["nodes"] if n["id"] == graph["data"])
    assert node["path"] == str(tmp_path / "data.csv") and node["kind"] == "file"
    # a directory is hashed like add hashes it
    d = repo.lineage(str(tmp_path / "dataset")).to_dict()
    assert d["node"] == graph["dir"] and d["downstream"] == ["model:b@0.1.0"]
    # and a code file
    assert repo.lineage("train.py", upstream=False).node == graph["code"]


def test_depth_limits_and_edges_among_found_nodes(repo, graph):
    r = repo.lineage("a@0.1.1", depth=1).to_dict()
    assert r["upstream"] == ["model:a@0.1.0"]
    assert set(r["downstream"]) == {"model:a@0.1.2", "model:b@0.1.0"}
    assert repo.lineage("a@0.1.1", depth=0).to_dict()["nodes"] == [
        {"id": "model:a@0.1.1", "type": "model", "model": "a", "version": "0.1.1",
         "digest": repo.show("a@0.1.1").digest}]
    # data.csv fed both an ancestor (a@0.1.0) and a descendant (b@0.1.0) of a@0.1.1
    both = repo.lineage("a@0.1.1").to_dict()
    edges = {(e["source"], e["target"]) for e in both["edges"]}
    assert (graph["data"], "model:b@0.1.0") in edges and (graph["data"], "model:a@0.1.0") in edges


def test_node_ids_are_accepted_and_unknowns_refused(repo, graph, tmp_path):
    assert repo.lineage(graph["data"]).node == graph["data"]
    assert repo.lineage("model:b@0.1.0").upstream
    (tmp_path / "other.csv").write_text("never used")
    with pytest.raises(NotFoundError, match="not the --data or --code"):
        repo.lineage("other.csv")
    with pytest.raises(NotFoundError, match="does not exist"):
        repo.lineage("missing/file.csv")
    with pytest.raises(NotFoundError):
        repo.lineage("zzz")
    with pytest.raises(NotFoundError):
        repo.lineage("data:sha256:" + "0" * 64)


def test_lineage_file_caught_up_when_read_and_rebuilt(repo, graph):
    path = repo.layout.lineage_file
    assert json.loads(path.read_bytes())["nodes"] == []  # add leaves it: derived when read
    repo.lineage("a")
    doc = json.loads(path.read_bytes())
    assert {"directed", "multigraph", "graph", "nodes", "edges"} <= doc.keys()
    assert len([n for n in doc["nodes"] if n["type"] == "model"]) == 4
    current = lineage_file.document(repo.registry.lineage_rows())
    assert lineage_file.file_matches(doc, current)
    import networkx as nx

    g = nx.node_link_graph(doc, edges="edges")  # readable by networkx as node-link JSON
    assert g.has_edge("model:a@0.1.1", "model:b@0.1.0")
    for damage in (None, b'{"directed": true, "nodes": [', b"{}\n"):
        if damage is None:
            path.unlink()
        else:
            path.write_bytes(damage)
        repo.lineage("a")
        assert lineage_file.file_matches(lineage_file.read_file(path), current)


def test_lineage_file_extended_equals_rebuilt(repo, graph, tmp_path):
    """Versions added since the file was written are appended (parents and inputs already
    in the file are not repeated); the result is what a rebuild writes."""
    path = repo.layout.lineage_file
    repo.lineage("a")
    (tmp_path / "c.bin").write_bytes(b"c")
    repo.add(tmp_path / "c.bin", name="c", data=[tmp_path / "data.csv", tmp_path / "dataset"],
             code=[tmp_path / "train.py"], parents=["a@0.1.0", "b"])
    (tmp_path / "c.bin").write_bytes(b"c2")
    repo.add(tmp_path / "c.bin", name="c", parents=["c"])
    assert lineage_file.bring_up_to_date(repo.registry, path) == "extended"
    assert lineage_file.bring_up_to_date(repo.registry, path) == "current"
    extended = json.loads(path.read_bytes())
    rebuilt = lineage_file.document(repo.registry.lineage_rows())
    assert {k: extended["graph"][k] for k in rebuilt["graph"]} == rebuilt["graph"]
    key = lambda x: json.dumps(x, sort_keys=True)  # noqa: E731
    assert sorted(map(key, extended["nodes"])) == sorted(map(key, rebuilt["nodes"]))
    assert sorted(map(key, extended["edges"])) == sorted(map(key, rebuilt["edges"]))
    assert repo.fsck().problems == ()


def test_fsck_catches_up_a_file_behind_but_reports_a_damaged_one(repo, graph):
    path = repo.layout.lineage_file
    assert repo.fsck().problems == ()  # behind (add left it): brought up to date, no problem
    assert lineage_file.file_matches(lineage_file.read_file(path),
                                     lineage_file.document(repo.registry.lineage_rows()))
    doc = json.loads(path.read_bytes())
    doc["edges"].pop()  # still valid JSON naming the newest version, but an edge is lost
    path.write_bytes(lineage_file.document_bytes(doc))
    assert [p.kind for p in repo.fsck().problems] == ["lineage"]
    assert repo.fsck(repair=True).ok and repo.fsck().problems == ()


def test_document_dedups_inputs_and_needs_no_networkx(repo, graph):
    import subprocess
    import sys

    code = ("import sys; from mvc.core import lineage_file; from mvc.api import Repo; "
            "r = Repo.open('.'); lineage_file.write_file(r.registry, r.layout.lineage_file); "
            "lineage_file.bring_up_to_date(r.registry, r.layout.lineage_file); "
            "assert 'networkx' not in sys.modules, 'networkx imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repo.layout.work_dir)
    doc = lineage_file.document(repo.registry.lineage_rows())
    ids = [n["id"] for n in doc["nodes"]]
    assert len(ids) == len(set(ids)) == 4 + 3


def test_renderings_hold_every_edge(repo, graph):
    r = repo.lineage("a@0.1.1")
    import re

    dot = r.to_dot()
    found = set(re.findall(r'^\s*"([^"]+)" -> "([^"]+)"', dot, re.M))
    assert found == {(e["source"], e["target"]) for e in r.edges}
    mer = r.to_mermaid()
    names = dict(re.findall(r'^\s*(n\d+)\[\(?"([^"]+)"\)?\]', mer, re.M))
    arrows = {(names[s], names[t]) for s, t in re.findall(r"^\s*(n\d+) -->\|\w+\| (n\d+)", mer, re.M)}
    assert arrows == found


def test_lineage_file_written_whole_when_its_room_is_used_up(repo, graph, tmp_path, monkeypatch):
    path = repo.layout.lineage_file
    monkeypatch.setattr(lineage_file, "_MIN_ROOM", 0)  # room for no node at all
    monkeypatch.setattr(lineage_file, "_ROOM_SHARE", 10**9)
    lineage_file.write_file(repo.registry, path)
    (tmp_path / "c.bin").write_bytes(b"c")
    repo.add(tmp_path / "c.bin", name="c", parents=["a"])
    assert lineage_file.bring_up_to_date(repo.registry, path) == "rebuilt"
    assert lineage_file.file_matches(lineage_file.read_file(path),
                                     lineage_file.document(repo.registry.lineage_rows()))


def test_lineage_file_append_cut_short_is_written_again(repo, graph, tmp_path):
    """An append interrupted before its attributes were written leaves the old attributes,
    which name where the next reader writes the same rows again."""
    import networkx as nx

    path = repo.layout.lineage_file
    repo.lineage("a")
    header = path.read_bytes()[:600]
    (tmp_path / "c.bin").write_bytes(b"c")
    repo.add(tmp_path / "c.bin", name="c", data=[tmp_path / "data.csv"], parents=["a"])
    assert lineage_file.bring_up_to_date(repo.registry, path) == "extended"
    whole = path.read_bytes()
    with open(path, "r+b") as f:  # as if killed before the attributes were written
        f.write(header)
        f.seek(0, 2)
        f.write(b'{"source":"half')
    assert lineage_file.bring_up_to_date(repo.registry, path) == "extended"
    assert path.read_bytes() == whole
    g = nx.node_link_graph(json.loads(whole), edges="edges")
    assert g.has_edge(graph["data"], "model:c@0.1.0") and g.has_edge("model:a@0.1.2", "model:c@0.1.0")
    assert lineage_file.file_matches(lineage_file.read_file(path),
                                     lineage_file.document(repo.registry.lineage_rows()))


def test_dot_writes_control_and_bidi_characters_as_references():
    """A data path with ESC and U+202E came out raw in --format dot, on a terminal a colour
    change and reordered text (probe H); Graphviz reads the references back."""
    result = {"node": "model:m@0.1.0", "nodes": [
        {"id": "model:m@0.1.0", "type": "model"},
        {"id": "data:sha256:" + "a" * 64, "type": "data", "digest": "sha256:" + "a" * 64,
         "path": 'd"q];\n\x1b[31mX\u202e.csv'}],
        "edges": [{"source": "data:sha256:" + "a" * 64, "target": "model:m@0.1.0", "type": "trained_on"}]}
    dot = lineage.to_dot(result)
    assert "\x1b" not in dot and "\u202e" not in dot
    assert 'label="data d\\"q];&#xa;&#x1b;[31mX&#x202e;.csv (sha256:aaaaaaaa…)"' in dot
