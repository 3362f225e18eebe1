"""Semantic versions: semver 2.0 §11 ordering, a leading v, bumps, and refusals."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from mvc.core.errors import UserError
from mvc.core.semver import (
    BUMPS, FIRST_VERSION, Version, all_canonical, is_canonical, looks_like_version, parse_version,
)

SPEC_ORDER = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
              "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"]


def test_semver_spec_example_order():
    versions = [parse_version(v) for v in SPEC_ORDER]
    for a, b in zip(versions, versions[1:]):
        assert a < b and not b < a and a != b
    shuffled = versions[:]
    random.Random(7).shuffle(shuffled)
    assert [str(v) for v in sorted(shuffled)] == SPEC_ORDER


@pytest.mark.parametrize("lower,higher", [
    ("1.0.0", "2.0.0"), ("2.0.0", "2.1.0"), ("2.1.0", "2.1.1"), ("1.9.0", "1.10.0"),
    ("1.0.0-2", "1.0.0-10"), ("1.0.0-999", "1.0.0-a"), ("1.0.0-rc.1", "1.0.0"),
    ("0.9.9", "1.0.0-alpha"), ("1.0.0-Z", "1.0.0-a"),  # ASCII order for identifiers
])
def test_precedence(lower, higher):
    assert parse_version(lower) < parse_version(higher)


def test_leading_v_is_dropped():
    assert parse_version("v1.2.3") == parse_version("1.2.3") == Version(1, 2, 3)
    assert str(parse_version("v2.0.0-rc.1")) == "2.0.0-rc.1"


@pytest.mark.parametrize("text", [
    "", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-", "1.2.3-01", "1.2.3-a..b",
    "1.2.3+build", "V1.2.3", "vv1.2.3", "-1.2.3", "1.2.3 4", "latest", "1.2.3-a_b", "x1.2.3",
    "\u0661.2.3", "1\u0661.0.0", "1.2.3-1\u0661", "1.2\n.3",
])
def test_invalid_versions_are_user_errors(text):
    assert not looks_like_version(text)
    with pytest.raises(UserError) as info:
        parse_version(text)
    assert info.value.exit_code == 1 and "invalid version" in info.value.message


@pytest.mark.parametrize("text", ["1.2.3\n", "1.2.3-rc.1\n"])
def test_a_version_is_the_whole_text(text):
    # parse_version forgives surrounding blanks, but a ref or tag that ends in a newline
    # is not a version
    assert not looks_like_version(text)


@pytest.mark.parametrize("bad", [None, 1, 1.0, b"1.0.0"])
def test_non_strings_are_user_errors(bad):
    with pytest.raises(UserError):
        parse_version(bad)


@pytest.mark.parametrize("start,part,result", [
    ("1.2.3", "patch", "1.2.4"), ("1.2.3", "minor", "1.3.0"), ("1.2.3", "major", "2.0.0"),
    ("0.1.0", "patch", "0.1.1"),
    # a prerelease bumps to the release it was a candidate for (npm)
    ("1.0.0-rc.1", "patch", "1.0.0"), ("1.0.0-rc.1", "minor", "1.0.0"), ("1.0.0-rc.1", "major", "1.0.0"),
    ("1.2.0-rc.1", "minor", "1.2.0"), ("1.2.0-rc.1", "major", "2.0.0"),
    ("1.2.3-rc.1", "patch", "1.2.3"), ("1.2.3-rc.1", "minor", "1.3.0"),
])
def test_bumps(start, part, result):
    bumped = parse_version(start).bump(part)
    assert str(bumped) == result and bumped > parse_version(start)


def test_invalid_bump():
    with pytest.raises(UserError, match="major, minor, patch"):
        Version(1, 0, 0).bump("micro")


def test_first_version():
    assert str(FIRST_VERSION) == "0.1.0"


# -- properties ----------------------------------------------------------------------------

_num = st.integers(min_value=0, max_value=10**6)
_alnum_id = st.from_regex(r"\A[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*\Z")
_pre_id = st.one_of(_num.map(str), _alnum_id)
versions = st.builds(
    Version, _num, _num, _num,
    st.one_of(st.just(""), st.lists(_pre_id, min_size=1, max_size=4).map(".".join)),
)


@given(versions)
def test_parse_of_str_round_trips(v):
    assert parse_version(str(v)) == v
    assert parse_version("v" + str(v)) == v
    assert looks_like_version(str(v))


@settings(max_examples=60, deadline=None)
@given(versions, versions)
def test_ordering_is_total_and_agrees_with_sort_key(a, b):
    assert sum([a < b, a == b, a > b]) == 1
    assert (a < b) == (a.sort_key() < b.sort_key())
    assert (a == b) == (a.sort_key() == b.sort_key())
    assert (a <= b) == (not a > b)


@settings(max_examples=60, deadline=None)
@given(versions, versions, versions)
def test_ordering_is_transitive(a, b, c):
    if a <= b and b <= c:
        assert a <= c


@settings(max_examples=60, deadline=None)
@given(versions, st.sampled_from(["major", "minor", "patch"]))
def test_a_bump_always_goes_up(v, part):
    assert v.bump(part) > v and v.bump(part).prerelease == ""


@given(st.text(max_size=40))
def test_random_text_parses_or_raises_user_error(text):
    try:
        v = parse_version(text)
    except UserError:
        return
    assert parse_version(str(v)) == v


# -- limits (SPEC §10, issue 10 item 8) -----------------------------------------------------

@pytest.mark.parametrize("text", [
    "9" * 21 + ".0.0", "0." + "1" * 21 + ".0", "0.0." + "5" * 5000, "1.0.0-" + "4" * 4400,
    "1.0.0-rc." + "1" * 21, "1.0.0-" + "a" * 200,
])
def test_versions_beyond_the_limits_are_refused(text):
    with pytest.raises(UserError, match="at most 20 digits"):
        parse_version(text)
    assert not is_canonical(text)


def test_versions_at_the_limits_parse_sort_and_print():
    top = "9" * 20
    v = parse_version(f"{top}.{top}.{top}-rc.{top}")
    assert str(v) == f"{top}.{top}.{top}-rc.{top}" and v < parse_version(f"{top}.{top}.{top}")
    assert is_canonical(str(v)) and not is_canonical("v" + str(v))
    assert parse_version("1.0.0-" + "a" * 122) and is_canonical("1.0.0-" + "a" * 122)


def test_many_versions_are_checked_as_each_is():
    """all_canonical (a listing's versions in bulk) is is_canonical of each."""
    texts = ["0.1.0", "1.0.0-rc.1", "1.0.0-" + "a" * 122, "1.0.0-" + "a" * 123, "v1.0.0", "01.0.0", "1.0",
             "1.0.0\n", "1.0.0-", "1.0.0-a..b", "1.0.0-01", "1.0.0-0a", "", "1.0.0+b", "\u0661.0.0",
             "9" * 20 + ".0.0", "9" * 21 + ".0.0", 1, None]
    for text in texts:
        assert all_canonical([text]) == is_canonical(text), text
        assert all_canonical(["0.1.0", text, "2.0.0"]) == is_canonical(text), text
    assert all_canonical([]) and all_canonical(texts[:3]) and not all_canonical(texts)


def test_a_bump_beyond_the_limit_is_refused():
    top = "9" * 20
    for part in BUMPS:
        with pytest.raises(UserError, match="limits"):
            parse_version(f"{top}.{top}.{top}").bump(part)


@settings(max_examples=200, deadline=None)
@given(versions, versions)
def test_text_key_sorts_as_semver(a, b):
    """The registry finds a model's latest version by ORDER BY this key in SQL."""
    assert (a < b) == (a.text_key() < b.text_key())
    assert (a == b) == (a.text_key() == b.text_key())
    # SQLite compares TEXT by its UTF-8 bytes
    assert (a < b) == (a.text_key().encode() < b.text_key().encode())
