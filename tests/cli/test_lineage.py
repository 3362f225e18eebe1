"""mvc lineage as a user runs it: tree, json, dot and mermaid (parsed back), bad input."""

from __future__ import annotations

import json
import re

from support import write


def _chain(repo, work):
    write(work / "train.csv", "a,b\n1,2\n")
    write(work / "train.py", "print('fit')\n")
    write(work / "m.bin", b"one")
    repo("add", "m.bin", "--name", "net", "--data", "train.csv", "--code", "train.py")
    write(work / "m.bin", b"two")
    repo("add", "m.bin", "--name", "net", "--data", "train.csv", "--from", "net@0.1.0")
    write(work / "s.bin", b"small")
    repo("add", "s.bin", "--name", "small", "--from", "net@0.1.1")


def test_json_shape(repo, work):
    _chain(repo, work)
    out = repo.json("lineage", "net@0.1.1")
    assert set(out) == {"node", "upstream", "downstream", "nodes", "edges"}
    assert out["node"] == "model:net@0.1.1" and out["downstream"] == ["model:small@0.1.0"]
    assert "model:net@0.1.0" in out["upstream"]
    assert all(re.match(r"^(model:[^@]+@\S+|data:sha256:[0-9a-f]{64}|code:sha256:[0-9a-f]{64})$", n["id"])
               for n in out["nodes"])
    assert all(set(e) == {"source", "target", "type"} for e in out["edges"])
    assert repo.json("lineage", "net@0.1.1", "--format", "json") == out
    assert json.loads(repo("lineage", "net@0.1.1", "--format", "json").stdout) == out


def test_path_downstream_tree(repo, work):
    _chain(repo, work)
    proc = repo("lineage", "train.csv", "--downstream")
    assert proc.stdout.splitlines()[0].startswith("data train.csv (sha256:")
    for ref in ("net@0.1.0", "net@0.1.1", "small@0.1.0"):
        assert ref in proc.stdout
    assert "upstream" not in proc.stdout
    up = repo("lineage", "small", "--upstream", "--depth", "1")
    assert "net@0.1.1" in up.stdout and "net@0.1.0" not in up.stdout


def test_a_node_id_names_its_digest_in_either_case(repo, work):
    """``data:sha256:HEX`` as copied from a tool that prints hex in capitals finds the same
    node, as a ``sha256:`` digest ref does (it said no version had it as input; probe H)."""
    _chain(repo, work)
    node = next(n for n in repo.json("lineage", "net@0.1.0")["upstream"] if n.startswith("data:"))
    upper = "data:sha256:" + node[len("data:sha256:"):].upper()
    out = repo.json("lineage", upper)
    assert out["node"] == node and "model:net@0.1.0" in out["downstream"]


def test_dot_and_mermaid_hold_every_edge(repo, work):
    _chain(repo, work)
    edges = {(e["source"], e["target"]) for e in repo.json("lineage", "net@0.1.1")["edges"]}
    assert len(edges) == 5
    dot = repo("lineage", "net@0.1.1", "--format", "dot").stdout
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert set(re.findall(r'^\s*"([^"]+)" -> "([^"]+)"', dot, re.M)) == edges
    import pydot  # in the test extra: a real DOT parser reads what mvc wrote

    (g,) = pydot.graph_from_dot_data(dot)
    assert {(e.get_source().strip('"'), e.get_destination().strip('"')) for e in g.get_edges()} == edges
    mer = repo("lineage", "net@0.1.1", "--format", "mermaid").stdout
    assert mer.startswith("flowchart LR\n")
    names = dict(re.findall(r'^\s*(n\d+)\[\(?"([^"]+)"\)?\]', mer, re.M))
    assert {(names[s], names[t]) for s, t in re.findall(r"^\s*(n\d+) -->\|\w+\| (n\d+)", mer, re.M)} == edges


def test_bad_input(repo, work):
    _chain(repo, work)
    write(work / "unused.csv", "nobody trained on this")
    proc = repo("lineage", "unused.csv", check=False)
    assert proc.returncode == 1 and "not the --data or --code of any version" in proc.stderr
    proc = repo("lineage", "no/such/file.csv", check=False)
    assert (proc.returncode, proc.stderr) == (1, "mvc: error: path no/such/file.csv does not exist\n")
    assert repo("lineage", "ghost@1.0.0", check=False).returncode == 1
    assert repo("lineage", "net", "--upstream", "--downstream", check=False).returncode == 2
    assert repo("lineage", "net", "--format", "png", check=False).returncode == 2
    assert repo("lineage", "net", "--depth", "-1", check=False).returncode == 2


def test_lineage_file_behind_a_symlink_is_replaced_not_written_through(repo, work, tmp_path):
    """mvc never writes through a symlink it did not make inside .mvc/ (SPEC §10)."""
    _chain(repo, work)
    elsewhere = tmp_path / "elsewhere.json"
    lineage_file = work / ".mvc" / "lineage.json"
    elsewhere.write_bytes(lineage_file.read_bytes())
    lineage_file.unlink()
    lineage_file.symlink_to(elsewhere)
    before = elsewhere.read_bytes()
    repo("lineage", "net@0.1.0")
    assert elsewhere.read_bytes() == before
    assert not lineage_file.is_symlink()
    assert json.loads(lineage_file.read_text())["graph"]["last_version_id"] == 3


def test_lineage_file_left_by_add_and_brought_up_to_date_when_read(repo, work):
    """add does not touch .mvc/lineage.json (its cost must not grow with the registry,
    SPEC §6); mvc lineage and mvc fsck bring it up to date."""
    lineage_file = work / ".mvc" / "lineage.json"
    before = lineage_file.read_bytes()
    _chain(repo, work)
    assert lineage_file.read_bytes() == before
    repo("lineage", "net@0.1.0")
    doc = json.loads(lineage_file.read_text())
    assert len(doc["nodes"]) == 5 and len(doc["edges"]) == 5
    assert doc["graph"]["last_version_id"] == 3
    write(work / "m.bin", b"three")
    repo("add", "m.bin", "--name", "net", "--data", "train.csv", "--from", "net@0.1.1")
    assert repo.json("fsck")["problems"] == []
    doc = json.loads(lineage_file.read_text())
    assert len(doc["nodes"]) == 6 and len(doc["edges"]) == 7


def test_a_lineage_read_that_cannot_update_the_file_does_not_claim_a_change(repo, work):
    """mvc lineage only reads: when the derived file cannot be written (a folder in its
    place) the warning no longer says 'the change itself was made'; when the registry is
    gone, its error is the one line, with no warning before it (probe H)."""
    _chain(repo, work)
    lineage_file = work / ".mvc" / "lineage.json"
    lineage_file.unlink()
    lineage_file.mkdir()
    proc = repo("lineage", "net@0.1.0")
    assert "could not be brought up to date" in proc.stderr and "change itself" not in proc.stderr
    lineage_file.rmdir()
    (work / ".mvc" / "registry.db").rename(work / "kept.db")
    proc = repo.fail("lineage", "net@0.1.0", code=3)
    assert proc.stderr.count("\n") == 1 and "warning" not in proc.stderr, proc.stderr


def test_a_chain_of_more_fine_tunes_than_pythons_recursion_limit_prints_as_a_tree(repo, work):
    """Probe U: a nightly fine-tune --from the last one reaches 1,000 versions in three years,
    and the tree (not --format json) said 'internal error (RecursionError)'."""
    import sys

    from mvc.api import Repo

    depth = sys.getrecursionlimit() + 50
    with Repo.open(work) as api:
        parent = ()
        for i in range(depth):
            write(work / "m.bin", str(i))
            parent = (api.add(work / "m.bin", name="m", parents=parent).ref,)
    down = repo("lineage", "m@0.1.0", "--downstream").stdout.splitlines()
    assert down[-1] == " " * 4 * depth + f"m@0.1.{depth - 1}", down[-1][-40:]
    up = repo("lineage", f"m@0.1.{depth - 1}", "--upstream").stdout.splitlines()
    assert up[-1].strip() == "m@0.1.0" and len(up) == depth + 1


def test_a_fifo_at_the_lineage_file_is_rebuilt_and_never_blocks(repo, work):
    """Probe U: lineage opened a FIFO there to read it and waited for a writer for good."""
    import os

    _chain(repo, work)
    lineage_file = work / ".mvc" / "lineage.json"
    lineage_file.unlink()
    os.mkfifo(lineage_file)
    fsck = repo("fsck", "--json", check=False)
    assert fsck.returncode == 3 and "lineage.json is not a regular file" in fsck.stdout, fsck.stdout
    assert "net@0.1.0" in repo("lineage", "net@0.1.0").stdout
    assert json.loads(lineage_file.read_text())["graph"]["last_version_id"] == 3


def test_fsck_finds_nodes_and_edges_written_twice_and_repair_rebuilds(repo, work):
    """Probe U: fsck compared the file's nodes and edges as sets, so an edited file whose last
    append was made twice passed as consistent."""
    _chain(repo, work)
    lineage_file = work / ".mvc" / "lineage.json"
    repo("lineage", "net@0.1.0")
    text = lineage_file.read_text()
    lineage_file.write_text(text.replace('"last_version_id":3', '"last_version_id":2'))
    repo("lineage", "net@0.1.0")  # appends the third version again
    doc = json.loads(lineage_file.read_text())
    assert len(doc["nodes"]) > len({n["id"] for n in doc["nodes"]})
    problems = repo.json("fsck", check=False)["problems"]
    assert [p["kind"] for p in problems] == ["lineage"] and "repeated" in problems[0]["message"], problems
    repo("fsck", "--repair")
    repo("fsck")


def test_a_file_that_is_one_models_data_and_anothers_code_names_both(repo, work):
    """Probe U: 'mvc lineage PATH' showed the data side only, without a word of the versions
    that used the same file as their --code."""
    write(work / "f.txt", "shared")
    write(work / "a.bin", "a")
    write(work / "b.bin", "b")
    repo("add", "a.bin", "--name", "a", "--data", "f.txt")
    repo("add", "b.bin", "--name", "b", "--code", "f.txt")
    proc = repo("lineage", "f.txt", "--downstream")
    assert "a@0.1.0" in proc.stdout
    code = re.search(r"'mvc lineage (code:sha256:[0-9a-f]{64})' shows them", proc.stderr)
    assert code, proc.stderr
    assert "b@0.1.0" in repo("lineage", code.group(1), "--downstream").stdout


def test_a_symlink_to_nothing_or_in_a_loop_is_named_as_add_names_it(repo, work):
    """Probe U: lineage said 'no file or directory link.csv, and unknown model' of a symlink
    whose target is gone."""
    import os

    os.symlink("gone.csv", work / "link.csv")
    os.symlink("loop.csv", work / "loop.csv")
    assert "path link.csv is a symlink to 'gone.csv', which does not exist" in repo.fail("lineage", "link.csv").stderr
    assert "path loop.csv is a symlink loop" in repo.fail("lineage", "loop.csv").stderr
    assert "does not exist" in repo.fail("add", "link.csv", "--name", "m").stderr  # add's words, unchanged


def test_a_code_node_says_whether_its_file_differed_from_its_commit(work, home):
    """Probe U: the node gave the commit alone, which does not hold the code used when the
    file had changes not committed (show's lineage said dirty)."""
    from support import git, git_project

    m = git_project(work, home)
    write(work / "train.py", "print(1)\n")
    git(work, "add", "train.py")
    git(work, "commit", "-qm", "train")
    head = git(work, "rev-parse", "HEAD").strip()
    write(work / "a.bin", "a")
    m("add", "a.bin", "--name", "a", "--code", "train.py")
    write(work / "train.py", "print(2)\n")
    write(work / "b.bin", "b")
    m("add", "b.bin", "--name", "b", "--code", "train.py")
    for name, dirty in (("a", False), ("b", True)):
        code = [n for n in m.json("lineage", name)["nodes"] if n["type"] == "code"]
        assert [(n["commit"], n["dirty"]) for n in code] == [(head, dirty)], code
