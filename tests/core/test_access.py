"""The access policy (SPEC §7) through the Repo API, in-process."""

from __future__ import annotations

import pytest

from mvc import Repo
from mvc.core.errors import ConflictError, NotFoundError, PermissionDeniedError, UserError


@pytest.fixture
def as_user(monkeypatch):
    """Act as another user: a Repo asks who acts once, so the open ones forget it."""
    opened: list[Repo] = []

    def switch(user: str) -> None:
        monkeypatch.setenv("MVC_USER", user)
        for r in opened:
            r.session.forget_user()
    switch.opened = opened
    return switch


@pytest.fixture
def repo(tmp_path, as_user, monkeypatch):
    monkeypatch.chdir(tmp_path)
    as_user("ana")
    r = Repo.init(tmp_path)
    as_user.opened.append(r)
    (tmp_path / "m.bin").write_bytes(b"weights")
    r.add(tmp_path / "m.bin", "m")
    yield r
    r.close()


def actions(r: Repo) -> list[str]:
    return [e.action for e in reversed(r.audit())]


def test_open_until_first_grant(repo, as_user):
    assert repo.access_list() == []
    as_user("bob")
    assert repo.tag("m", "best").action == "created"  # open: everyone acts as admin


@pytest.mark.parametrize("user, role", [("bob", "admin"), ("ana", "writer"), ("ana", "reader")])
def test_first_grant_must_make_the_actor_admin(repo, user, role):
    with pytest.raises(UserError, match="first grant must make you an admin"):
        repo.access_grant(user, role)
    assert repo.access_list() == []


def test_ungranted_users_are_readers_and_denials_are_logged(repo, as_user):
    repo.access_grant("ana", "admin")
    as_user("eve")
    before = (repo.registry.tags("m"), repo.access_list())
    objects = sorted(repo.store.iter_digests())
    (repo.layout.work_dir / "n.bin").write_bytes(b"other weights")
    with pytest.raises(PermissionDeniedError) as err:
        repo.add(repo.layout.work_dir / "n.bin", "n")
    assert err.value.exit_code == 4 and "writer" in err.value.message
    with pytest.raises(PermissionDeniedError):
        repo.tag("m", "best")
    with pytest.raises(PermissionDeniedError):
        repo.config_set("compare.primary_metric", "f1")
    assert (repo.registry.tags("m"), repo.access_list()) == before
    assert sorted(repo.store.iter_digests()) == objects  # a denied add stores nothing
    denied = [e for e in repo.audit() if e.action == "denied"]
    assert [(e.user, e.details["action"]) for e in reversed(denied)] == [
        ("eve", "add"), ("eve", "tag"), ("eve", "config")]
    assert repo.audit_verify().ok
    assert repo.ls("m")  # reading is fine


def test_roles_include_the_ones_before(repo, as_user):
    repo.access_grant("ana", "admin")
    repo.access_grant("wes", "writer")
    repo.access_grant("mia", "maintainer")
    as_user("wes")
    repo.tag("m", "best")
    with pytest.raises(PermissionDeniedError):
        repo.config_set("compare.threshold", 0.1)  # maintainer
    with pytest.raises(PermissionDeniedError):
        repo.gc()  # admin
    as_user("mia")
    repo.config_set("compare.threshold", 0.1)
    repo.tag("m", "good")
    with pytest.raises(PermissionDeniedError):
        repo.access_grant("eve", "admin")


def test_grant_change_unchanged_revoke(repo):
    assert repo.access_grant("ana", "admin").action == "granted"
    assert repo.access_grant("bob", "writer").action == "granted"
    change = repo.access_grant("bob", "maintainer")
    assert (change.action, change.previous, change.role) == ("changed", "writer", "maintainer")
    assert repo.access_grant("bob", "maintainer").action == "unchanged"
    assert repo.access_revoke("bob").to_dict() == {
        "user": "bob", "role": None, "previous": "maintainer", "action": "revoked"}
    with pytest.raises(NotFoundError):
        repo.access_revoke("bob")
    assert [g.user for g in repo.access_list()] == ["ana"]
    assert actions(repo).count("access") == 4


def test_last_admin_cannot_be_revoked_or_demoted(repo, as_user):
    repo.access_grant("ana", "admin")
    with pytest.raises(ConflictError, match="last admin"):
        repo.access_revoke("ana")
    with pytest.raises(ConflictError, match="last admin"):
        repo.access_grant("ana", "writer")
    repo.access_grant("bob", "admin")
    repo.access_grant("ana", "writer")  # bob is still admin
    as_user("bob")
    with pytest.raises(ConflictError):
        repo.access_revoke("bob")
    assert {g.user: g.role for g in repo.access_list()} == {"ana": "writer", "bob": "admin"}


@pytest.mark.parametrize("user", ["", " ana", "a\x00b", "a\nb", "x" * 300])
def test_bad_user_names(repo, user):
    with pytest.raises(UserError):
        repo.access_grant(user, "admin")


LOOK_ALIKES = [
    ("\u0430lice", "mixes scripts"),           # a Cyrillic а before Latin "lice"
    ("p\u0430ypal@example.com", "mixes scripts"),
    ("\u0430\u0441\u0435", "look like the Latin"),  # "асе": Cyrillic letters that read "ace"
    ("\u039a\u039f", "look like the Latin"),     # Greek "ΚΟ"
    ("al\u200bice", "invisible"),              # zero-width space
    ("ali\u200dce", "invisible"),              # zero-width joiner
    ("\u202eecila", "invisible"),              # right-to-left override
    ("ana\u00a0b", "invisible"),               # no-break space
    ("bo\u0085b@x.com", "invisible or control"),  # C1 controls: a terminal shows 'bob@x.com'
    ("x\u009by", "invisible or control"),      # (probe T: C0's tab and ESC were refused, these not)
    ("al\u3164ice", "invisible"),              # Hangul filler, a blank letter
    ("\uff41lice", "write it as 'alice'"),     # fullwidth a: NFKC makes it "alice"
    ("a\u0301na", "write it as '\u00e1na'"),  # a decomposed á
    ("ana\udcff", r"'ana\\xff' is not valid UTF-8"),  # a byte that was not UTF-8 (surrogate escape),
    # named as typed (it said '\udcff', probe H)
]


@pytest.mark.parametrize("user, why", LOOK_ALIKES)
def test_look_alike_user_names_are_refused(repo, as_user, user, why):
    with pytest.raises(UserError, match=why):
        repo.access_grant(user, "admin")
    repo.access_grant("ana", "admin")
    with pytest.raises(UserError, match=why):
        repo.access_grant(user, "writer")
    as_user(user)  # the acting user: refused before anything changes, not even a denied event
    events = len(repo.audit())
    with pytest.raises(UserError, match=why) as err:
        repo.tag("m", "best")
    assert "MVC_USER" in err.value.message and err.value.exit_code == 1
    assert len(repo.audit()) == events and [g.user for g in repo.access_list()] == ["ana"]


@pytest.mark.parametrize("user", [
    "ana@example.com", "Jos\u00e9.Garc\u00eda@example.es", "\u0438\u0432\u0430\u043d",
    "\u0438\u0432\u0430\u043d@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", "\u0395\u03bb\u03ad\u03bd\u03b7",
    "\u7530\u4e2d\u592a\u90ce", "tanaka.\u305f\u308d\u3046", "\u30bf\u30ed\u30a6_\u592a\u90ce", "ana smith",
    "o'brien+ml@example.com", "\u0645\u062d\u0645\u062f",
])
def test_names_in_one_script_are_fine(repo, as_user, user):
    repo.access_grant("ana", "admin")
    assert repo.access_grant(user, "writer").action == "granted"
    as_user(user)
    assert repo.tag("m", "best").action == "created"
    assert repo.audit()[0].user == user


def test_bad_role(repo):
    with pytest.raises(UserError, match="unknown role"):
        repo.access_grant("ana", "root")


def test_policy_survives_reopening(repo, as_user, tmp_path):
    repo.access_grant("ana", "admin")
    repo.close()
    as_user("eve")
    with Repo.open(tmp_path) as again:
        with pytest.raises(PermissionDeniedError):
            again.tag("m", "best")
