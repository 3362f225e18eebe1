"""mvc ls: models, one model's versions, --state, and the JSON contract."""

from __future__ import annotations

import json

MODEL_KEYS = {"model", "versions", "latest", "channels"}
VERSION_KEYS = {"ref", "version", "digest", "state", "tags", "created_at", "metrics"}


def test_ls_models_json(repo):
    assert repo.json("ls") == []
    proc = repo("ls")
    assert proc.stdout == "model\tversions\tlatest\tstaging\tproduction\n" and proc.stderr == ""  # the header alone
    repo.add("resnet", b"1")
    repo.add("resnet", b"2")
    repo.add("bert", b"3")
    proc = repo("ls", "--json")
    assert proc.stderr == ""
    rows = json.loads(proc.stdout)
    assert [set(r) for r in rows] == [MODEL_KEYS, MODEL_KEYS]
    assert rows == [
        {"model": "bert", "versions": 1, "latest": "0.1.0",
         "channels": {"staging": None, "production": None}},
        {"model": "resnet", "versions": 2, "latest": "0.1.1",
         "channels": {"staging": None, "production": None}},
    ]


def test_ls_versions_json(repo):
    a = repo.add("m", b"1", "--metric", "acc=0.5")
    repo.add("m", b"2", "--metric", "acc=0.7", "--tag", "best")
    rows = repo.json("ls", "m")
    assert [set(r) for r in rows] == [VERSION_KEYS, VERSION_KEYS]
    assert [r["ref"] for r in rows] == ["m@0.1.1", "m@0.1.0"]  # newest first
    assert rows[1]["digest"] == a["digest"] and rows[1]["metrics"] == {"acc": 0.5}
    assert rows[0]["tags"] == ["best"] and rows[1]["tags"] == []
    assert {r["state"] for r in rows} == {"development"}
    assert all(r["created_at"].endswith("Z") for r in rows)


def test_ls_state_filter(repo):
    repo.add("m", b"1")
    assert len(repo.json("ls", "m", "--state", "development")) == 1
    assert repo.json("ls", "m", "--state", "production") == []
    assert repo.json("ls", "--state", "staging") == []
    assert "'live' is not one of development, staging" in repo.fail("ls", "--state", "live", code=2).stderr
    proc = repo.fail("ls", "mm")
    assert "unknown model 'mm'; did you mean m?" in proc.stderr


def test_ls_human_table(repo):
    repo.add("resnet", b"1", "--metric", "accuracy=0.91")
    out = repo("ls").stdout
    assert "resnet" in out and "0.1.0" in out and "production" in out
    out = repo("ls", "resnet").stdout
    assert "resnet@0.1.0" in out and "accuracy=0.91" in out


def test_ls_json_is_the_same_bytes_on_sqlite_and_postgresql(tmp_path, home, pg_server, pg_url):
    """ls NAME --json (written column by column, cli/output.py) is json.dumps(indent=2) of
    its rows byte for byte, and the same bytes whichever backend holds them: awkward numbers,
    unicode and quotes in keys, tags, channels, archived, nested params, and metrics a
    writer other than mvc stored (1.0E+2, 0.10, 1E400: a double's overflow prints null)."""
    import sqlite3

    from support import Mvc, write

    metrics = {"acc": 0.1, "tiny": 1e-7, "huge": 1e20, "big": 12345678901234567890, "neg": -2.5e-308,
               "zero": -0.0, "a_b:c/d-e.f": 3, "nested": {"a": 1}}
    params = {"layers": [1, [2, 3]], "opt": {"name": "adam", "betas": [0.9, 0.999]}, "s": "tab\there\n\u2028"}
    runs = {}
    for backend in ("sqlite", "postgresql"):
        m = Mvc(tmp_path / backend, home)
        m.cwd.mkdir()
        m("init", *(["--registry", pg_url] if backend == "postgresql" else []))
        write(m.cwd / "metrics.json", json.dumps(metrics))
        write(m.cwd / "params.json", json.dumps(params))
        m.add("m", b"1", "--metrics-file", "metrics.json", "--params-file", "params.json",
              "--tag", "z.2", "--tag", "a-b")
        m.add("m", b"2", "--metric", "acc=0.30000000000000004", "--param", "lr=1e-3")
        m.add("m", b"3")
        m.add("m", b"4", "--metric", "x=1")
        m.add("m", b"5", "--metric", "x=2")
        m("promote", "m@0.1.1", "production")
        m("promote", "m@0.1.2", "staging")
        m("archive", "m@0.1.3")
        stamp = ("UPDATE {t}versions SET created_at = '2026-01-02T03:04:05Z'",
                 "UPDATE {t}versions SET metrics = '{{\"x\": 1.0E+2, \"y\": 0.10, \"é \\\"q\\\" %s\\t\\u00e9\": 1}}'"
                 " WHERE version = '0.1.3'")
        if backend == "sqlite":
            with sqlite3.connect(m.mvc_dir / "registry.db") as conn:
                for statement in stamp:
                    conn.execute(statement.format(t=""))
            conn.close()
        else:
            for statement in stamp:
                pg_server.sql(statement.format(t="mvc."), dbname=pg_url.rsplit("/", 1)[1])
        runs[backend] = (m("ls", "m", "--json").stdout, m("ls", "m", "--limit", "2", "--json").stdout)
        overflow = "UPDATE {t}versions SET metrics = '{{\"inf\": 1E400}}' WHERE version = '0.1.4'"
        if backend == "sqlite":
            with sqlite3.connect(m.mvc_dir / "registry.db") as conn:
                conn.execute(overflow.format(t=""))
            conn.close()
        else:
            pg_server.sql(overflow.format(t="mvc."), dbname=pg_url.rsplit("/", 1)[1])
        runs[backend] += (m("ls", "m", "--json").stdout,)
    assert runs["sqlite"] == runs["postgresql"]
    for out in runs["sqlite"][:2]:
        assert out == json.dumps(json.loads(out), indent=2, ensure_ascii=False) + "\n"
    rows = json.loads(runs["sqlite"][0])
    assert [r["state"] for r in rows] == ["development", "archived", "staging", "production", "development"]
    assert rows[-1]["tags"] == ["a-b", "z.2"]
    flat = {**{k: v for k, v in metrics.items() if k != "nested"}, "nested.a": 1}
    assert list(rows[-1]["metrics"].items()) == sorted(flat.items())  # mvc stores them sorted
    assert '"huge": 1e+20,' in runs["sqlite"][0] and '"tiny": 1e-07,' in runs["sqlite"][0]
    assert rows[1]["metrics"] == {"x": 100.0, "y": 0.1, 'é "q" %s\té': 1}
    assert json.loads(runs["sqlite"][2])[0]["metrics"] == {"inf": None}
