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
