"""mvc config: get, set, unset, list; TOML scalars; the schema of known keys (defaults, types,
admin-only keys); comments and layout kept; every change is an audit event."""

from __future__ import annotations

import tomllib

from support import BIN

from mvc.core.config import SCHEMA


def test_set_get_list_unset(repo, work):
    # (issue 8: only known keys can be set now; this test used to set core.verbose, core.retries,
    # core.name and core.layers, which are unknown keys and exit 1)
    assert repo.json("config", "list") == {}
    assert repo.json("config", "set", "compare.threshold", "0.9") == {
        "key": "compare.threshold", "value": 0.9, "action": "set"}
    repo("config", "set", "compare.primary_metric", "f1")
    repo("config", "set", "core.lock_timeout", "3")
    repo("config", "set", "compare.latency_metric", '"p99_ms"')  # TOML-quoted (a metric name has no space)
    repo("config", "set", "channels.canary.deploy_dir", "2024")  # a key that holds text keeps the text
    toml = tomllib.loads((work / ".mvc" / "config.toml").read_text())
    assert toml == {"compare": {"threshold": 0.9, "primary_metric": "f1", "latency_metric": "p99_ms"},
                    "core": {"lock_timeout": 3}, "channels": {"canary": {"deploy_dir": "2024"}}}
    assert repo.json("config", "list") == {
        "compare.threshold": 0.9, "compare.primary_metric": "f1", "compare.latency_metric": "p99_ms",
        "core.lock_timeout": 3, "channels.canary.deploy_dir": "2024"}
    # strings print bare for scripts, other values as TOML
    assert repo("config", "get", "compare.primary_metric").stdout == "f1\n"
    assert repo("config", "get", "core.lock_timeout").stdout == "3\n"
    assert repo("config", "get", "compare.threshold").stdout == "0.9\n"
    assert repo.json("config", "get", "compare.threshold") == {
        "key": "compare.threshold", "value": 0.9, "action": "get", "origin": "config"}
    repo("config", "set", "compare.lower_is_better", '["*wer*", "*cer*"]')
    listed = repo("config", "list").stdout.splitlines()
    assert "compare.threshold = 0.9" in listed
    assert 'compare.lower_is_better = ["*wer*", "*cer*"]' in listed  # one line per key, arrays too

    assert repo.json("config", "unset", "compare.threshold")["action"] == "unset"
    assert "compare.threshold" not in repo.json("config", "list")
    for key in ("compare.primary_metric", "compare.latency_metric", "compare.lower_is_better"):
        repo("config", "unset", key)
    assert "compare" not in tomllib.loads((work / ".mvc" / "config.toml").read_text())


def test_get_prints_the_value_in_effect_and_list_all_every_key(repo):
    assert repo("config", "get", "compare.threshold").stdout == "0.05\n"
    assert repo.json("config", "get", "compare.threshold") == {
        "key": "compare.threshold", "value": 0.05, "action": "get", "origin": "default"}
    assert repo("config", "get", "version.default_bump").stdout == "patch\n"
    assert repo("config", "get", "compare.lower_is_better").stdout.startswith('["*loss*", ')
    assert "'core.remote' is not set (" in repo.fail("config", "get", "core.remote").stderr
    assert repo.json("config", "list") == {}  # list shows what is set, as before

    repo("config", "set", "gc.grace_seconds", "60")
    repo("config", "set", "channels.canary.deploy_dir", "deploy/canary")
    every = repo.json("config", "list", "--all")
    assert all(set(e) == {"key", "value", "origin"} for e in every)
    assert [e["key"] for e in every] == sorted(
        [k for k in SCHEMA if "*" not in k] + ["channels.canary.deploy_dir"])
    by_key = {e["key"]: (e["value"], e["origin"]) for e in every}
    assert by_key["compare.threshold"] == (0.05, "default")
    assert by_key["gc.grace_seconds"] == (60, "config")
    assert by_key["channels.canary.deploy_dir"] == ("deploy/canary", "config")
    assert by_key["core.remote"] == (None, "default")
    assert by_key["compare.lower_is_better"][0][:2] == ["*loss*", "*error*"]
    lines = repo("config", "list", "-a").stdout.splitlines()  # a pipe: tab-separated columns
    assert lines[0] == "key\tvalue\torigin"
    assert "compare.threshold\t0.05\tdefault" in lines and "gc.grace_seconds\t60\tconfig" in lines
    assert len(lines) == len(every) + 1


def test_config_errors_change_nothing(repo, work):
    repo("config", "set", "compare.threshold", "0.1")
    before = repo.state()
    assert "not set" in repo.fail("config", "unset", "compare.primary_metric").stderr
    # (issue 8: an unknown key is now "unknown config key", where it was "not set")
    assert "unknown config key 'nothing.here'" in repo.fail("config", "get", "nothing.here").stderr
    assert "invalid config key" in repo.fail("config", "set", "bad key", "1").stderr
    assert "invalid config key" in repo.fail("config", "get", "a..b").stderr
    assert "default_bump" in repo.fail("config", "set", "version.default_bump", "huge").stderr
    err = repo.fail("config", "set", "compare.treshold", "0.2").stderr
    assert "unknown config key 'compare.treshold'; did you mean 'compare.threshold'?" in err
    assert "compare.primary_metric" in err  # says which keys there are
    assert "the keys are in channels, compare, core" in repo.fail("config", "set", "a.b", "1").stderr
    for key, value, accepted in [
        ("compare.threshold", "much", "must be a number, 0 or more"),
        ("compare.threshold", "-0.1", "must be a number, 0 or more"),
        ("compare.threshold", "nan", "must be a number"),
        ("core.lock_timeout", "true", "must be a number of seconds"),
        ("gc.grace_seconds", "-5", "must be a number of seconds"),
        ("compare.lower_is_better", "3", "list of glob patterns"),
        ("compare.weights.accuracy", "high", "must be a number"),
        ("core.remote", "two words", "name of a remote"),
        ("registry.url", "mysql://db", "sqlite:///PATH or postgresql://"),
        ("registry.url", "postgresql://ana:secret@db/mvc", "password may not be written"),
    ]:
        assert accepted in repo.fail("config", "set", key, value).stderr, (key, value)
    repo.fail("config", "set", "compare.threshold", code=2)
    repo.fail("config", "frobnicate", code=2)
    assert repo.state() == before


def test_a_wrong_value_written_by_hand_says_how_to_fix_it(repo, work):
    repo.add("m", b"weights")
    (work / ".mvc" / "config.toml").write_text('[core]\nlock_timeout = "soon"\n')
    err = repo.fail("tag", "m", "best").stderr
    assert "config core.lock_timeout" in err and "'soon'" in err and "mvc config unset core.lock_timeout" in err
    assert repo.fail("config", "get", "core.lock_timeout").stderr == err  # it printed soon: not in effect
    repo("config", "set", "compare.weights.accuracy", "0.5")
    assert ("config compare.weights is a table, not a key; its keys: compare.weights.accuracy"
            in repo.fail("config", "get", "compare.weights").stderr)
    repo("config", "unset", "core.lock_timeout")  # the fix itself is not blocked by the wrong value
    repo("tag", "m", "best")
    # a key this mvc does not know, written by hand (or by a newer mvc), can be read and removed
    (work / ".mvc" / "config.toml").write_text('[future]\nsetting = 1\n')
    assert repo("config", "get", "future.setting").stdout == "1\n"
    assert {"key": "future.setting", "value": 1, "origin": "config"} in repo.json("config", "list", "--all")
    repo("config", "unset", "future.setting")
    assert (work / ".mvc" / "config.toml").read_text() == ""


HAND_WRITTEN = """\
# Settings for the team: reviewed in pull requests.

# the bar a new model must clear (agreed 2026-03)
[compare]
threshold = 0.1  # 10 %

lower_is_better = ["*loss*"]   # nothing else here is lower-better

# where production is served
[channels.production]
deploy_dir = "/srv/models"
"""


def test_set_and_unset_keep_comments_and_layout(repo, work):
    path = work / ".mvc" / "config.toml"
    path.write_text(HAND_WRITTEN)
    repo("config", "set", "compare.threshold", "0.2")
    assert path.read_text() == HAND_WRITTEN.replace("threshold = 0.1  # 10 %", "threshold = 0.2  # 10 %")
    repo("config", "set", "compare.threshold", "0.1")
    assert path.read_text() == HAND_WRITTEN
    # new keys and tables go beside their own, not under another table's comment
    repo("config", "set", "compare.primary_metric", "f1")
    repo("config", "set", "compare.weights.accuracy", "0.9")
    repo("config", "set", "gc.grace_seconds", "0")
    text = path.read_text()
    assert text.startswith(HAND_WRITTEN.split("\n# where")[0].replace(
        '# nothing else here is lower-better\n', '# nothing else here is lower-better\n'
        'primary_metric = "f1"\n\n[compare.weights]\naccuracy = 0.9\n'))
    assert "\n\n# where production is served\n[channels.production]\n" in text
    assert text.endswith('deploy_dir = "/srv/models"\n\n[gc]\ngrace_seconds = 0\n')
    assert tomllib.loads(text)["compare"] == {"threshold": 0.1, "lower_is_better": ["*loss*"],
                                              "primary_metric": "f1", "weights": {"accuracy": 0.9}}
    for key in ("gc.grace_seconds", "compare.weights.accuracy", "compare.primary_metric"):
        repo("config", "unset", key)
    assert path.read_text() == HAND_WRITTEN
    assert sorted(p.name for p in (work / ".mvc" / "tmp").iterdir()) == []  # written atomically


def test_keys_that_decide_trust_need_admin(repo, work):
    repo("access", "grant", "tester@example.com", "admin")
    repo("access", "grant", "mia", "maintainer")
    mia = {"MVC_USER": "mia"}
    repo("config", "set", "compare.threshold", "0.2", env=mia)  # maintainer is enough
    before = (work / ".mvc" / "config.toml").read_text()
    for key, value in [("channels.production.deploy_dir", "/tmp/evil"), ("registry.url", "sqlite:///x.db"),
                       ("remote.backup.url", "/mnt/b"), ("core.remote", "backup")]:
        proc = repo("config", "set", key, value, env=mia, check=False)
        assert proc.returncode == 4 and "needs the admin role" in proc.stderr, (key, proc.stderr)
        assert repo.events()[-1]["action"] == "denied"
        assert repo.events()[-1]["details"]["action"] == "config" and repo.events()[-1]["target"] == key
    assert (work / ".mvc" / "config.toml").read_text() == before
    repo("config", "set", "channels.canary.deploy_dir", "deploy/canary")  # the admin may
    assert repo("config", "unset", "channels.canary", env=mia, check=False).returncode == 4
    assert repo("config", "unset", "channels.canary.deploy_dir", env=mia, check=False).returncode == 4
    repo("config", "unset", "compare.threshold", env=mia)
    repo("config", "unset", "channels.canary")


def test_config_set_appends_audit_event(repo):
    before = repo.events()
    repo("config", "set", "compare.primary_metric", "f1")
    repo("config", "unset", "compare.primary_metric")
    events = repo.events()
    assert events[:len(before)] == before
    new = events[len(before):]
    assert [(e["action"], e["target"], e["details"]) for e in new] == [
        ("config", "compare.primary_metric", {"value": "f1"}),
        ("config", "compare.primary_metric", {"unset": True}),
    ]
    assert all(e["user"] == "tester@example.com" for e in new)


def test_a_value_where_a_table_belongs_is_an_error_not_ignored(repo, work):
    """'compare = 3' written by hand would hide every compare.* key: commands that read one
    say so (exit 1) instead of quietly using the defaults; unset fixes it."""
    (repo.mvc_dir / "config.toml").write_text("compare = 3\n")
    proc = repo.fail("config", "get", "compare.threshold")
    assert "config compare" in proc.stderr and "mvc config unset compare" in proc.stderr
    repo("config", "unset", "compare")
    assert repo("config", "get", "compare.threshold").stdout.strip() == "0.05"


def test_a_settings_file_an_editor_or_a_teammate_left_is_an_error_that_names_it(repo, work):
    """config.toml in Latin-1, nested 5,000 deep, or a FIFO: every command was an internal
    error (UnicodeDecodeError, RecursionError) or waited forever in open(); now exit 1 naming
    the file and what to do. A byte order mark is read past and dropped when written."""
    import os
    import subprocess

    cfg = repo.mvc_dir / "config.toml"
    good = cfg.read_bytes()
    cfg.write_bytes(good + b"# caf\xe9\n")
    err = repo.fail("ls").stderr
    assert "is not valid UTF-8 (byte 0xe9 at line" in err and str(cfg) in err
    cfg.write_text("[a]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nest too deep" in repo.fail("config", "list").stderr
    cfg.unlink()
    os.mkfifo(cfg)
    for args in (["ls"], ["config", "set", "compare.threshold", "0.1"]):
        proc = subprocess.run([str(BIN), *args], cwd=repo.cwd, env=repo.env, capture_output=True, text=True,
                              timeout=20)
        assert proc.returncode == 1 and "is not a regular file" in proc.stderr, (args, proc.stderr)
    cfg.unlink()
    cfg.write_bytes(b"\xef\xbb\xbf" + good)
    assert repo("ls").returncode == 0
    repo("config", "set", "compare.threshold", "0.2")
    assert repo("config", "get", "compare.threshold").stdout.strip() == "0.2"
    assert not cfg.read_bytes().startswith(b"\xef\xbb\xbf")


def test_a_fifo_put_at_registry_id_is_named_not_waited_on(repo):
    """gc read .mvc/registry-id through open(), which waits for a FIFO's writer forever, and
    fsck said the repository was consistent."""
    import os
    import subprocess

    repo.add("m", b"A")
    ident = repo.mvc_dir / "registry-id"
    ident.unlink(missing_ok=True)
    os.mkfifo(ident)
    for args, code in ((["gc", "--dry-run"], 3), (["fsck"], 3)):
        proc = subprocess.run([str(BIN), *args], cwd=repo.cwd, env=repo.env, capture_output=True, text=True,
                              timeout=20)
        assert proc.returncode == code and "registry-id" in proc.stderr, (args, proc.stderr)
    ident.unlink()
    repo("gc", "--dry-run")


def test_a_value_written_by_hand_prints_on_one_line_and_metric_names_are_names(repo, work):
    """config get and config list printed a newline, tab or U+202E inside a value as it was
    (list --all escaped them), and config set took any text as a metric name (probe I)."""
    bad = "x\u202etxt\nfoo"
    assert "must be a metric name" in repo.fail("config", "set", "compare.primary_metric", bad).stderr
    cfg = repo.mvc_dir / "config.toml"
    cfg.write_text(cfg.read_text() + '[channels.edge]\ndeploy_dir = "/tmp/x\\u202etxt\\nfoo"\n')
    got = repo("config", "get", "channels.edge.deploy_dir").stdout
    assert got == "/tmp/x\\u202etxt\\nfoo\n"
    listed = repo("config", "list").stdout
    assert "\u202e" not in listed and 'channels.edge.deploy_dir = "/tmp/x\\u202etxt\\nfoo"\n' in listed
    assert repo.json("config", "get", "channels.edge.deploy_dir")["value"] == "/tmp/x" + bad[1:]
