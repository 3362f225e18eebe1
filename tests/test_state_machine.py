"""A hypothesis state machine over the Python API (issue 10): add, tag, promote, rollback,
canary start/step/abort/promote, archive, gc and fsck interleave in any order, now and then an
``mvc`` subprocess is SIGKILLed at a crash point (MVC_CRASH_AT, mvc/core/faults.py), and after
every step the registry, the object store, the deploy folders and the audit chain must agree:
verify and fsck find nothing, the chain is intact and still holds its first head, each
channel's ``routing.json`` and ``current`` say what ``resolve`` says and hold that version's
bytes, and the registry lists exactly the versions the machine added."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, settings, strategies as st
from hypothesis.stateful import (
    Bundle, RuleBasedStateMachine, initialize, invariant, multiple, precondition, rule,
)

from mvc import Repo
from mvc.core.errors import MvcError, UserError
from support import BIN

MODELS = ("a", "b")
CHANNELS = ("staging", "production")
# what an artifact holds, by name (so that hypothesis prints short steps); "w2" spans blocks
CONTENTS = {"w0": b"weights-0", "w1": b"weights-1", "w2": b"weights-2" * 3000}
BLOBS = tuple(CONTENTS)
# Crash points an ``mvc`` subprocess is killed at; each leaves the repository before or after
# the change, with only derived state (deploy folder, tmp) to roll forward.
ADD_CRASHES = ("object:before-rename", "add:stored", "add:locked", "add:before-commit")
PROMOTE_CRASHES = ("deploy:staged", "deploy:slot-aside", "deploy:slot", "deploy:checked",
                   "deploy:committed", "deploy:current", "deploy:routing")
USER = "machine@example.com"


def sha256_file(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


class RepositoryMachine(RuleBasedStateMachine):
    versions = Bundle("versions")

    def __init__(self) -> None:
        super().__init__()
        self.saved_user = os.environ.get("MVC_USER")
        os.environ["MVC_USER"] = USER
        self.root = Path(tempfile.mkdtemp(prefix="mvc-state-"))
        self.home = self.root / "home"
        self.home.mkdir()
        self.repo = Repo.init(self.root)
        # gc and fsck --repair act at once: nothing else writes to this repository
        self.repo.config_set("gc.grace_seconds", 0)
        self.added: dict[str, str] = {}  # ref -> digest, every version the machine made
        self.archived: set[str] = set()
        self.first_head = self.repo.audit_head().hash
        self.events = self.event_count()
        self.files = 0

    def teardown(self) -> None:
        self.repo.close()
        shutil.rmtree(self.root, ignore_errors=True)
        if self.saved_user is None:
            os.environ.pop("MVC_USER", None)
        else:
            os.environ["MVC_USER"] = self.saved_user

    # -- helpers ------------------------------------------------------------------------
    def event_count(self) -> int:
        return self.repo.audit_head().seq

    def change(self, fn, *args, **kw):
        """Run one change; a refused one (exit 1) must leave no event and no damage."""
        before = self.event_count()
        try:
            out = fn(*args, **kw)
        except UserError:
            assert self.event_count() == before, f"a refused {fn.__name__} left an audit event"
            return None
        assert self.event_count() >= before
        return out

    def artifact(self, blob: str, as_dir: bool, unique: bool = False) -> Path:
        """A file or folder holding ``blob`` (with ``unique``, bytes no object has yet)."""
        self.files += 1
        path = self.root / "work" / f"m{self.files}"
        if as_dir:
            (path / "sub").mkdir(parents=True)
            (path / "config.json").write_bytes(b'{"layers": 2}')
            (path / "sub" / "weights.bin").write_bytes(CONTENTS[blob])
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(CONTENTS[blob] + (b"-%d" % self.files if unique else b""))
        return path

    def mvc(self, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MVC_", "GIT_"))}
        env.update(HOME=str(self.home), MVC_USER=USER, NO_COLOR="1")
        if crash_at:
            env["MVC_CRASH_AT"] = crash_at
        return subprocess.run([str(BIN), *args], cwd=self.root, env=env, capture_output=True,
                              text=True, timeout=120)

    # -- rules ----------------------------------------------------------------------------
    @initialize(target=versions, empty=st.integers(0, 3).map(lambda n: n == 0))
    def first_versions(self, empty):
        """Mostly two versions of ``a``, one of ``b``, and ``a``'s first on both channels (most
        rules need something to act on, and a canary needs a stable version beside it); now
        and then an empty repository (a first add that is killed, gc with no versions)."""
        if empty:
            return multiple()
        refs = [self.add("a", BLOBS[0], False, False), self.add("a", BLOBS[1], True, False),
                self.add("b", BLOBS[2], False, False)]
        for channel in CHANNELS:
            self.promote(refs[0], channel)
        return multiple(*refs)

    @rule(target=versions, model=st.sampled_from(MODELS), blob=st.sampled_from(BLOBS),
          as_dir=st.booleans(), force=st.booleans())
    def add(self, model, blob, as_dir, force):
        added = self.change(self.repo.add, self.artifact(blob, as_dir), model, force=force)
        if added is None or not added.created:
            return multiple()
        assert added.ref not in self.added
        self.added[added.ref] = added.digest
        return added.ref

    @rule(ref=versions, label=st.sampled_from(("best", "candidate")))
    def tag(self, ref, label):
        self.change(self.repo.tag, ref, label, force=True)

    @rule(ref=versions, channel=st.sampled_from(CHANNELS))
    def promote(self, ref, channel):
        moved = self.change(self.repo.promote, ref, channel)
        if moved is not None:
            assert ref not in self.archived
            assert self.repo.resolve(ref.split("@")[0], channel).ref == ref

    @rule(model=st.sampled_from(MODELS), channel=st.sampled_from(CHANNELS))
    def rollback(self, model, channel):
        moved = self.change(self.repo.rollback, model, channel)
        if moved is not None:
            assert self.repo.resolve(model, channel).ref == moved.ref

    @rule(ref=versions, channel=st.sampled_from(CHANNELS), percent=st.integers(1, 99))
    def canary_start(self, ref, channel, percent):
        if self.change(self.repo.canary_start, ref, channel, percent) is not None:
            canary = self.repo.resolve(ref.split("@")[0], channel).canary
            assert canary == {"version": ref.split("@")[1], "percent": percent}

    def running_canaries(self) -> list[tuple[str, str]]:
        return [(m, c) for m in MODELS for c in CHANNELS if self.canary_of(m, c)]

    @precondition(lambda self: self.running_canaries())
    @rule(data=st.data(), step=st.integers(1, 60))
    def canary_step(self, data, step):
        model, channel = data.draw(st.sampled_from(self.running_canaries()))
        percent = self.canary_of(model, channel)["percent"]
        if self.change(self.repo.canary_step, model, channel, step) is not None:
            canary = self.canary_of(model, channel)
            assert canary is not None and canary["percent"] == percent + step

    @precondition(lambda self: self.running_canaries())
    @rule(data=st.data())
    def canary_abort(self, data):
        model, channel = data.draw(st.sampled_from(self.running_canaries()))
        stable = self.repo.resolve(model, channel).version
        assert self.change(self.repo.canary_abort, model, channel) is not None
        served = self.repo.resolve(model, channel)
        assert served.canary is None and served.version == stable

    @precondition(lambda self: self.running_canaries())
    @rule(data=st.data())
    def canary_promote(self, data):
        model, channel = data.draw(st.sampled_from(self.running_canaries()))
        canary = self.canary_of(model, channel)
        assert self.change(self.repo.canary_promote, model, channel) is not None
        served = self.repo.resolve(model, channel)
        assert served.canary is None and served.version == canary["version"]

    @rule(ref=versions, undo=st.booleans())
    def archive(self, ref, undo):
        done = self.change(self.repo.archive, ref, undo=undo)
        if done is not None:
            (self.archived.discard if undo else self.archived.add)(ref)

    @rule()
    def gc(self):
        self.change(self.repo.gc, grace=0)

    @rule(repair=st.booleans())
    def fsck(self, repair):
        assert self.repo.fsck(repair=repair).ok

    @rule(target=versions, point=st.sampled_from(ADD_CRASHES), model=st.sampled_from(MODELS),
          blob=st.sampled_from(BLOBS))
    def killed_add(self, point, model, blob):
        self.killed(point, "add", str(self.artifact(blob, False, unique=True)), "--name", model)
        try:
            rows = self.repo.ls(model)
        except MvcError:
            return multiple()  # the model's first add died before its commit
        made = [row for row in rows if row.ref not in self.added]
        self.added.update((row.ref, row.digest) for row in made)  # it committed before it died
        return multiple(*(row.ref for row in made))

    @rule(point=st.sampled_from(PROMOTE_CRASHES + ("gc:deleting",)), ref=versions,
          channel=st.sampled_from(CHANNELS))
    def killed_promote_or_gc(self, point, ref, channel):
        if point == "gc:deleting":
            self.killed(point, "gc", "--grace", "0")
        else:
            self.killed(point, "promote", ref, channel)

    def killed(self, point: str, *args: str) -> None:
        """SIGKILL one ``mvc`` process at a crash point, then do what the user would: run
        ``fsck --repair``, which must leave nothing to report."""
        proc = self.mvc(*args, crash_at=point)
        assert proc.returncode in (-9, 0, 1), proc.stderr  # killed, or never reached the point
        event(f"mvc {args[0]} at {point}: {'killed' if proc.returncode == -9 else f'exit {proc.returncode}'}")
        self.repo.session.close()  # another process wrote: read the registry afresh
        report = self.repo.fsck(repair=True)
        assert report.ok, report.problems

    # -- what must hold after every step ----------------------------------------------------
    def canary_of(self, model: str, channel: str):
        try:
            return self.repo.resolve(model, channel).canary
        except MvcError:
            return None

    @invariant()
    def registry_lists_what_was_added(self):
        listed = {v.ref: v for m in self.repo.ls() for v in self.repo.ls(m.model)}
        assert {r: v.digest for r, v in listed.items()} == self.added
        assert {r for r, v in listed.items() if v.state == "archived"} == self.archived

    @invariant()
    def objects_and_chain_are_whole(self):
        report = self.repo.verify()
        assert report.ok, report.problems
        found = self.repo.fsck()
        assert found.ok, found.problems
        assert self.repo.audit_verify(head=self.first_head).ok
        events = self.event_count()
        assert events >= self.events
        self.events = events

    @invariant()
    def deploy_folders_say_what_resolve_says(self):
        for model in MODELS:
            for channel in CHANNELS:
                try:
                    served = self.repo.resolve(model, channel)
                except MvcError:
                    continue  # nothing serves there yet
                status = self.repo.canary_status(model, channel)
                folder = Path(status.deploy_dir)
                routing = json.loads((folder / "routing.json").read_text())
                assert routing["stable"]["version"] == served.version
                assert routing["stable"]["path"] == served.path == status.path
                assert os.readlink(folder / "current") == status.slot
                assert (routing["canary"] or {}).get("version") == (served.canary or {}).get("version")
                assert (routing["canary"] or {}).get("percent") == (served.canary or {}).get("percent")
                self.assert_holds(served.ref, Path(served.path))
                if status.canary:
                    self.assert_holds(status.canary["ref"], Path(status.canary["path"]))

    def assert_holds(self, ref: str, path: Path) -> None:
        """The deploy path holds the version's bytes (a file artifact: its digest)."""
        digest = self.added[ref]
        if path.is_file():
            assert sha256_file(path) == digest, f"{path} does not hold {ref}"
        else:
            assert path.is_dir() and (path / "config.json").is_file(), f"{path} does not hold {ref}"


RepositoryMachine.TestCase.settings = settings(
    max_examples=15, stateful_step_count=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestRepositoryMachine = RepositoryMachine.TestCase
