"""What probe D found confusing (items 9 and 10): messages that blame the wrong thing or suggest
what cannot work, and input parsed differently in different places."""

from __future__ import annotations

import pytest

from support import Mvc


@pytest.fixture
def two(repo: Mvc) -> Mvc:
    repo.add("m", "a", filename="a")
    repo.add("m", "b", filename="b")
    return repo


# item 10: one parsing everywhere

def test_a_version_with_surrounding_spaces_is_refused_as_in_a_ref(two: Mvc):
    proc = two.fail("add", "a", "--name", "m", "--version", " 2.0.0")
    assert "invalid version ' 2.0.0'" in proc.stderr
    two.fail("add", "a", "--name", "m", "--version", "2.0.0\t")
    two.fail("show", "m@ 0.1.0")
    two("add", "a", "--name", "m", "--version", "2.0.0")


@pytest.mark.parametrize("args", [
    ["add", "a", "--name", "m", "--metric", "acc=\uff10.\uff19"],  # fullwidth 0.9
    ["add", "a", "--name", "m", "--metric", "acc=\u0665"],  # Arabic-Indic 5
])
def test_metric_values_take_ascii_digits_only(two: Mvc, args):
    proc = two.fail(*args)
    assert "ASCII" in proc.stderr
    assert len(two.json("ls", "m")) == 2


@pytest.mark.parametrize("args", [
    ["log", "m", "--limit", "\uff11"],
    ["log", "m", "-n\uff11"],
    ["audit", "--limit=\uff11"],
    ["lineage", "m", "--depth", "\u0663"],
    ["canary", "start", "m@0.1.1", "--channel", "staging", "--percent", "\uff11\uff10"],
    ["canary", "step", "m", "--channel", "staging", "--increment", "\uff15"],
])
def test_numbers_in_options_take_ascii_digits_only(two: Mvc, args):
    proc = two.fail(*args, code=2)
    assert "ASCII digits" in proc.stderr
