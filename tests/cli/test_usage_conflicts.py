"""Flags that contradict each other are usage errors (exit 2), refused before anything runs."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("args, words", [
    (["lineage", "m", "--format", "dot", "--json"], "--json and --format dot"),
    (["lineage", "m", "--format", "mermaid", "--json"], "--json and --format mermaid"),
    (["lineage", "m", "--upstream", "--downstream"], "--upstream and --downstream"),
    (["tag", "--delete", "m", "best", "--force"], "--delete and --force"),
    (["tag", "m", "-m", "why"], "--message goes with a change"),
    (["audit", "--verify", "-n", "1"], "--limit"),
    (["push", "m@0.1.0", "--pointers"], "--pointers"),
    (["checkout", "-o", "out.bin"], "-o needs a REF"),
])
def test_contradictory_flags_are_exit_2(repo, args, words):
    repo.add("m", b"1")
    repo("tag", "m@0.1.0", "best")
    before = repo.state()
    proc = repo.fail(*args, code=2)
    assert words in proc.stderr
    assert repo.state() == before


def test_the_same_thing_said_twice_is_fine(repo):
    repo.add("m", b"1")
    assert repo.json("lineage", "m", "--format", "json")["node"] == "model:m@0.1.0"
    assert repo.json("lineage", "m")["node"] == "model:m@0.1.0"
