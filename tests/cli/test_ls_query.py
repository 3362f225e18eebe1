"""mvc ls NAME --where EXPR... --sort KEY --reverse --limit N (SPEC §3), and Repo.find."""

from __future__ import annotations

import pytest

from support import Mvc, module_repo

VERSION_KEYS = {"ref", "version", "digest", "state", "tags", "created_at", "metrics"}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Mvc:
    """m 0.1.0 .. 0.1.5: accuracy rises, latency falls, 0.1.5 has no metrics; lr and opt
    params; 0.1.2 tagged best, 0.1.3 in production, 0.1.1 in staging, 0.1.0 archived."""
    repo = module_repo(tmp_path_factory)
    for i in range(5):
        repo.add("m", f"v{i}".encode(), "--metric", f"accuracy=0.8{i}", "--metric", f"latency_ms={100 - 3 * i}",
                 "--param", f"lr=0.0{i + 1}", "--param", f"opt={'adam' if i < 2 else 'sgd'}")
    repo.add("m", b"v5", "--param", "lr=1")
    repo("tag", "m@0.1.2", "best")
    repo("promote", "m@0.1.3", "production")
    repo("promote", "m@0.1.1", "staging")
    repo("archive", "m@0.1.0")
    return repo


def _versions(repo: Mvc, *args: str) -> list[str]:
    return [r["version"] for r in repo.json("ls", "m", *args)]


def test_sort_by_a_metric_best_first_by_its_direction_lacking_last(zoo):
    assert _versions(zoo) == ["0.1.5", "0.1.4", "0.1.3", "0.1.2", "0.1.1", "0.1.0"]
    assert _versions(zoo, "--sort", "accuracy") == ["0.1.4", "0.1.3", "0.1.2", "0.1.1", "0.1.0", "0.1.5"]
    assert _versions(zoo, "--sort", "latency_ms") == ["0.1.4", "0.1.3", "0.1.2", "0.1.1", "0.1.0", "0.1.5"]
    assert _versions(zoo, "--sort", "accuracy", "--reverse") == ["0.1.0", "0.1.1", "0.1.2", "0.1.3", "0.1.4",
                                                                 "0.1.5"]
    assert _versions(zoo, "--sort", "version", "--reverse", "--limit", "2") == ["0.1.0", "0.1.1"]
    assert _versions(zoo, "--sort", "created", "--limit", "1") == ["0.1.5"]
    # compare.lower_is_better decides the direction
    zoo("config", "set", "compare.lower_is_better", '["accuracy"]')
    try:
        assert _versions(zoo, "--sort", "accuracy", "--limit", "1") == ["0.1.0"]
    finally:
        zoo("config", "unset", "compare.lower_is_better")


WHERE = [
    (["accuracy > 0.82"], ["0.1.4", "0.1.3"]),
    (["accuracy >= 0.82", "latency_ms <= 94"], ["0.1.4", "0.1.3", "0.1.2"]),
    (["param.opt = sgd", "accuracy<0.84"], ["0.1.3", "0.1.2"]),
    (["param.opt != sgd"], ["0.1.1", "0.1.0"]),
    (["param.lr = 1"], ["0.1.5"]),
    (["param.lr < 0.03"], ["0.1.1", "0.1.0"]),
    (["tag = best"], ["0.1.2"]),
    (["tag != best", "accuracy > 0.82"], ["0.1.4", "0.1.3"]),
    (["state = production"], ["0.1.3"]),
    (["state = staging"], ["0.1.1"]),
    (["state = archived"], ["0.1.0"]),
    (["state != development"], ["0.1.3", "0.1.1", "0.1.0"]),
    (["version >= 0.1.4"], ["0.1.5", "0.1.4"]),
    (["version = v0.1.2"], ["0.1.2"]),
    (["accuracy > 0.99"], []),
]


def test_where_filters_all_hold(zoo):
    got = {}
    for where, _ in WHERE:
        got[" & ".join(where)] = _versions(zoo, *[a for w in where for a in ("--where", w)])
    assert got == {" & ".join(where): expected for where, expected in WHERE}


def test_json_keeps_the_shape_of_ls_and_state_combines(zoo):
    rows = zoo.json("ls", "m", "--where", "accuracy > 0.8", "--sort", "accuracy", "--limit", "2")
    assert [set(r) for r in rows] == [VERSION_KEYS] * 2
    assert rows[0] == {**rows[0], "ref": "m@0.1.4", "state": "development", "tags": [],
                       "metrics": {"accuracy": 0.84, "latency_ms": 88}}
    assert _versions(zoo, "--state", "production", "--sort", "accuracy") == ["0.1.3"]
    assert "'live' is not one of" in zoo.fail("ls", "m", "--state", "live", "--sort", "accuracy", code=2).stderr


def test_pipe_output_is_the_ls_table(zoo):
    out = zoo("ls", "m", "--where", "tag = best").stdout.splitlines()
    assert out[0].split("\t") == ["ref", "digest", "state", "tags", "created", "metrics"]
    assert out[1].split("\t")[0::2] == ["m@0.1.2", "development", zoo.json("show", "m@0.1.2")["created_at"]]
    assert len(out) == 2


def test_bad_expressions_are_exit_1_with_the_accepted_form(zoo):
    for expr in ("accuracy", "accuracy > high", "tag > x", "state = live", "version < 1.x", "a ~ 1"):
        proc = zoo.fail("ls", "m", "--where", expr)
        assert f"invalid --where '{expr}'" in proc.stderr and "write KEY OP VALUE, OP one of = != < <= > >=" in proc.stderr
    proc = zoo.fail("ls", "m", "--where", "accuracy > high", "--json")
    assert "KEY OP VALUE" in proc.stdout
    assert "0 is not in the range x>=1" in zoo.fail("ls", "m", "--limit", "0", code=2).stderr
    assert "invalid --sort" in zoo.fail("ls", "m", "--sort", "a b").stderr
    assert "unknown model 'n'" in zoo.fail("ls", "n", "--where", "accuracy > 1").stderr
    assert "need a model name" in zoo.fail("ls", "--sort", "accuracy", code=2).stderr


def test_a_misspelt_metric_or_parameter_in_where_is_exit_1_not_an_empty_answer(zoo):
    proc = zoo.fail("ls", "m", "--where", "acuracy > 0.5")
    assert "no version of model 'm' has a metric 'acuracy'" in proc.stderr
    assert "its metrics: accuracy, latency_ms" in proc.stderr
    proc = zoo.fail("ls", "m", "--where", "param.optimizer = adam", "--json")
    assert "has a parameter 'optimizer'" in proc.stdout and "its parameters: lr, opt" in proc.stdout
    # a name that some version has, and a condition nothing meets, is an empty answer
    assert _versions(zoo, "--where", "accuracy > 5") == []
    assert _versions(zoo, "--where", "param.opt = rmsprop") == []


def test_where_numbers_are_written_as_add_reads_them(zoo):
    """'1_0', full-width digits and 'infinity' are numbers to float(), not to mvc add, so
    not to --where either."""
    for text in ("1_0", "\uff10.9", "infinity", "0x10", "1e999"):
        proc = zoo.fail("ls", "m", "--where", f"accuracy > {text}")
        assert "compares with a finite number in ASCII digits" in proc.stderr
        assert "metric 'a' must be a" in zoo.fail("add", "model.bin", "--name", "z", "--metric", f"a={text}").stderr
    assert _versions(zoo, "--where", "accuracy >= .83") == ["0.1.4", "0.1.3"]
    assert _versions(zoo, "--where", "accuracy == 8.3e-1") == ["0.1.3"]


def test_repo_find_returns_what_ls_json_prints(zoo):
    from mvc import Repo

    with Repo.open(zoo.cwd) as r:
        found = r.find("m", where=["accuracy > 0.8"], sort="accuracy", limit=3)
        assert [v.to_dict() for v in found] == zoo.json("ls", "m", "--where", "accuracy > 0.8", "--sort",
                                                       "accuracy", "--limit", "3")
        assert [v.version for v in r.find("m", where="tag = best")] == ["0.1.2"]
        assert [v.version for v in r.find("m", sort="latency_ms", reverse=True, limit=1)] == ["0.1.0"]


@pytest.fixture(params=["sqlite", "postgresql"])
def either(request, mvc: Mvc) -> Mvc:
    """An empty repository whose registry is the SQLite file or a PostgreSQL database."""
    if request.param == "postgresql":
        mvc("init", "--registry", request.getfixturevalue("pg_url"))
    else:
        mvc("init")
    return mvc


def test_query_diff_and_series_on_both_registries(either):
    m = either
    for i, (acc, lat, opt) in enumerate(((0.8, 30, "adam"), (0.9, 20, "sgd"), (0.85, 10, "adam"))):
        m.add("r", f"w{i}".encode(), "--metric", f"accuracy={acc}", "--metric", f"latency_ms={lat}",
              "--param", f"opt={opt}", *(["--tag", "best"] if i == 1 else []))
    m("promote", "r@0.1.2", "production")
    assert [v["version"] for v in m.json("ls", "r", "--sort", "accuracy")] == ["0.1.1", "0.1.2", "0.1.0"]
    assert [v["version"] for v in m.json("ls", "r", "--sort", "latency_ms", "--limit", "1")] == ["0.1.2"]
    assert [v["version"] for v in m.json("ls", "r", "--where", "param.opt = adam", "--where", "state = production")] \
        == ["0.1.2"]
    assert [v["version"] for v in m.json("ls", "r", "--where", "tag != best", "--where", "version < 0.1.2")] \
        == ["0.1.0"]
    many = m.json("diff", "r@0.1.0", "r@best", "r@production")
    assert many["best"] == {"accuracy": "r@0.1.1", "latency_ms": "r@0.1.2"}
    assert many["recommendation"] == {"verdict": "RECOMMEND", "ref": "r@0.1.1"}
    series = m.json("plot", "r", "--metric", "latency_ms")
    assert series["metrics"]["latency_ms"] == [{"version": f"0.1.{i}", "value": v} for i, v in enumerate((30, 20, 10))]
    assert series["channels"]["production"] == "0.1.2"


def test_big_numbers_timestamps_and_quotes_agree_on_both_registries(either):
    """Numbers compare as doubles on SQLite and PostgreSQL alike, beyond 64 bits and beyond
    a float too; --limit beyond SQL's bigint is no limit; created takes ISO 8601 dates and
    times as UTC instants; 'adam' is "adam"; --sort of a metric no version has is exit 1."""
    m = either
    m.add("b", b"1", "--metric", "acc=0.5", "--param", "big=9007199254740993", "--param", "opt=adam",
          "--param", "huge=1" + "0" * 400)
    m.add("b", b"2", "--metric", "acc=9007199254740993", "--param", "big=9007199254740992", "--param", "opt=sgd",
          "--param", "huge=99999999999999999999")
    m.add("b", b"3", "--param", "big=1")

    def found(*args: str) -> list[str]:
        return [v["version"] for v in m.json("ls", "b", *args)]

    assert found("--where", "param.big = 9007199254740992") == ["0.1.1", "0.1.0"]  # 2**53 + 1 is 2**53 as a double
    assert found("--where", "param.big > 9007199254740992") == []
    # an empty answer on names some version has (found by one-row probes on either backend,
    # a string-valued one too), and exit 1 for a name none has
    assert found("--where", "param.opt = rmsprop") == found("--where", "acc > 1e300") == []
    assert "its parameters: big, huge, opt" in m.fail("ls", "b", "--where", "param.optim = adam").stderr
    assert found("--where", "acc = 9007199254740992") == ["0.1.1"]
    assert found("--where", "param.huge = 99999999999999999999") == ["0.1.1"]
    assert found("--where", "param.huge > 99999999999999999999") == ["0.1.0"]  # 1e400: infinity
    assert found("--where", "param.big < 1" + "0" * 400) == ["0.1.2", "0.1.1", "0.1.0"]
    assert found("--sort", "acc", "--limit", "9223372036854775808") == ["0.1.1", "0.1.0", "0.1.2"]
    assert found("--limit", str(10**30)) == ["0.1.2", "0.1.1", "0.1.0"]
    assert found("--where", "param.opt = 'adam'") == found("--where", 'param.opt = "adam"') == ["0.1.0"]
    created = m.json("show", "b@0.1.1")["created_at"]
    assert found("--where", f"created >= {created}") == ["0.1.2", "0.1.1"]
    second = created[:19]
    assert found("--where", f"created >= {second.replace('T', ' ')}+00:00") == found("--where", f"created >= {second}Z")
    assert "0.1.1" in found("--where", f"created >= {second.replace('T', ' ')}")
    assert found("--where", "created > 2000-01-01") == ["0.1.2", "0.1.1", "0.1.0"]
    assert found("--where", "created < 2000-01-01T00:00:00+01:00") == []
    for bad in ("created > abc", "created > 2026-13-01"):
        assert "ISO 8601 date" in m.fail("ls", "b", "--where", bad).stderr
    proc = m.fail("ls", "b", "--sort", "acuracy")
    assert "no version of model 'b' has a metric 'acuracy'" in proc.stderr and "its metrics: acc" in proc.stderr
    assert found("--sort", "acc", "--where", "param.big = 1") == ["0.1.2"]  # a metric some versions lack is fine


def test_the_missing_name_error_stays_one_line_and_says_how_to_write_metric_dot_names(repo):
    repo.add("k", b"1", "--metric", "metric.y=0.5", *[f"--metric=m{i}=1" for i in range(40)])
    proc = repo.fail("ls", "k", "--where", "metric.y > 0")
    assert "(a metric called metric.y is written metric.metric.y)" in proc.stderr
    assert [v["version"] for v in repo.json("ls", "k", "--where", "metric.metric.y > 0")] == ["0.1.0"]
    err = repo.fail("ls", "k", "--where", "m3x > 1").stderr
    assert len(err.splitlines()) == 1 and "its metrics: m3, " in err and "and 29 more" in err
