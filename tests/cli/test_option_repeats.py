"""Options given more than once (probe D item 4): the last value wins, as in git, except where a
dropped value would be unsafe or ambiguous, which is a usage error (exit 2) naming the option."""

from __future__ import annotations

from support import Mvc


def test_a_second_check_is_refused_and_nothing_moves(two: Mvc):
    proc = two.fail("promote", "m@0.1.0", "staging", "--check", "exit 1", "--check", "true", code=2)
    assert "'--check'" in proc.stderr and "&&" in proc.stderr
    two.fail("promote", "m@0.1.0", "staging", "--check=true", "--check=true", code=2)
    two.fail("canary", "start", "m@0.1.1", "-c", "staging", "-p", "10",
             "--check", "true", "--check", "true", code=2)
    assert "promote" not in [e["action"] for e in two.events()]
    two("promote", "m@0.1.0", "staging", "--check", "true")  # once is fine


def test_two_different_channels_are_refused(two: Mvc):
    two("promote", "m@0.1.0", "staging")
    two("promote", "m@0.1.1", "staging")
    two("promote", "m@0.1.0", "production")
    two("promote", "m@0.1.1", "production")
    for args in (["--channel", "staging", "--channel", "production"],
                 ["-c", "staging", "-cproduction"],
                 ["--channel=staging", "-c", "production"]):
        proc = two.fail("rollback", "m", *args, code=2)
        assert "'--channel'" in proc.stderr and "production" in proc.stderr
    two.fail("canary", "status", "m", "-c", "staging", "-c", "production", code=2)
    assert [e["action"] for e in two.events()].count("rollback") == 0
    # the same channel twice says one thing: allowed
    two("rollback", "m", "-c", "staging", "--channel", "staging")
    assert two.json("resolve", "m", "--channel", "staging")["version"] == "0.1.0"


def test_a_metric_or_param_key_given_two_values_is_refused(two: Mvc):
    proc = two.fail("add", "a", "--name", "m", "--metric", "acc=1", "--metric", "acc=2", code=2)
    assert "'--metric'" in proc.stderr and "'acc'" in proc.stderr
    proc = two.fail("add", "a", "--name", "m", "--param", "lr=0.1", "--param", "lr =0.2", code=2)
    assert "'--param'" in proc.stderr and "'lr'" in proc.stderr
    # one key twice with the same value, or different keys: fine
    made = two.json("add", "a", "--name", "m", "--metric", "acc=1", "--metric", "acc=1",
                    "--metric", "f1=2", "--param", "lr=0.1", "--param", "lr=0.1")
    assert made["created"]
    shown = two.json("show", made["ref"])
    assert shown["metrics"] == {"acc": 1, "f1": 2} and shown["params"] == {"lr": 0.1}


def test_other_single_value_options_keep_the_last_value(two: Mvc):
    lines = two("log", "m", "-n", "1", "--limit", "2").stdout.strip().splitlines()
    assert len(lines) == 3  # a header and two entries
    # a value that happens to look like an option is a value, not a second --check
    two("promote", "m@0.1.0", "staging", "-m", "--check", "--check", "true")


def test_a_value_at_the_end_of_a_cluster_of_short_flags_is_seen():
    """-fcVAL and -fc VAL (a flag, then an option that takes a value) are read as click reads
    them, so a repeat written that way is not missed (reviewer)."""
    from types import SimpleNamespace

    from mvc.cli.repeats import given

    def option(*opts, flag=False):
        return SimpleNamespace(param_type_name="option", opts=list(opts), secondary_opts=[],
                               is_flag=flag, count=False, nargs=1)

    force, channel = option("--force", "-f", flag=True), option("--channel", "-c")
    command = SimpleNamespace(get_params=lambda ctx: [force, channel])
    found = given(command, None, ["-fcstaging", "-fc", "production", "-cx", "-zc", "y", "--", "-cq"])
    assert [(p is channel, typed, value) for p, typed, value in found] == [
        (True, "-c", "staging"), (True, "-c", "production"), (True, "-c", "x")]
