"""Channel and tag names that would hide each other in a ref (probe D item 5, SPEC §2: tags may
not look like a version, a channel name or latest): refused when made, in any case; what an
older mvc let in keeps resolving as before."""

from __future__ import annotations

import sqlite3

import pytest

from support import Mvc


@pytest.mark.parametrize("label", ["01.1.0", "0.1", "V0.1.0", "v0.1.0", "1.2.3-rc.1", "0.1-x"])
def test_a_tag_that_looks_like_a_version_is_refused(two: Mvc, label):
    proc = two.fail("tag", "m@0.1.0", label)
    assert "may not look like a version" in proc.stderr
    two.fail("add", "a", "--name", "m", "--force", "--tag", label)
    assert two.json("tag", "m") == []


@pytest.mark.parametrize("label", ["LATEST", "Latest", "sha256", "SHA256", "Production", "STAGING"])
def test_a_tag_named_like_a_reserved_word_or_channel_in_any_case_is_refused(two: Mvc, label):
    proc = two.fail("tag", "m@0.1.0", label)
    assert label in proc.stderr
    assert two.json("tag", "m") == []


def test_words_that_only_contain_digits_or_a_v_stay_tags(two: Mvc):
    for label in ("best", "paper-2026", "2026", "v1", "rc.1"):
        two("tag", "m@0.1.0", label)
        assert two.json("show", f"m@{label}")["version"] == "0.1.0"


@pytest.mark.parametrize("channel", ["latest", "LATEST", "sha256", "Sha256"])
def test_a_channel_named_like_a_reserved_word_is_refused(two: Mvc, tmp_path, channel):
    proc = two.fail("config", "set", f"channels.{channel}.deploy_dir", str(tmp_path / "d"))
    assert "meaning of its own in a ref" in proc.stderr
    assert channel not in (two.mvc_dir / "config.toml").read_text()


@pytest.mark.parametrize("channel", ["gold", "GOLD"])
def test_a_channel_named_like_an_existing_tag_is_refused_naming_the_tag(two: Mvc, tmp_path, channel):
    two("add", "b", "--name", "other")
    two("tag", "other@0.1.0", "gold")
    proc = two.fail("config", "set", f"channels.{channel}.deploy_dir", str(tmp_path / "d"))
    assert "other has a tag 'gold'" in proc.stderr and "mvc tag --delete other gold" in proc.stderr
    assert two.json("show", "other@gold")["version"] == "0.1.0"
    # deleting the tag frees the name; an existing channel's folder may still change
    two("tag", "--delete", "other", "gold")
    two("config", "set", f"channels.{channel}.deploy_dir", str(tmp_path / "d"))
    two("config", "set", f"channels.{channel}.deploy_dir", str(tmp_path / "e"))


def test_tags_an_older_mvc_let_in_keep_resolving_and_can_be_deleted(two: Mvc):
    two("tag", "m@0.1.0", "old1")
    two("tag", "m@0.1.1", "old2")
    with sqlite3.connect(two.mvc_dir / "registry.db") as db:
        db.execute("UPDATE tags SET label = '01.1.0' WHERE label = 'old1'")
        db.execute("UPDATE tags SET label = 'LATEST' WHERE label = 'old2'")
    assert two.json("show", "m@01.1.0")["version"] == "0.1.0"
    assert two.json("show", "m@LATEST")["version"] == "0.1.1"
    assert "consistent" in two("fsck").stdout
    two("tag", "--delete", "m", "01.1.0")
    two("tag", "--delete", "m", "LATEST")
    assert two.json("tag", "m") == []
