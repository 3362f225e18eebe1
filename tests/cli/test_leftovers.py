"""What interrupted commands leave behind (issue 10 item 14): a killed promote's ``.tmp-slot-*``
in the deploy folder and an interrupted push's ``tmp/upload-*`` on the remote. fsck reports
them; ``--repair`` removes them once they are older than ``gc.grace_seconds``."""

from __future__ import annotations

import os
import time

from support import write


def _age(path, seconds=3600):
    t = time.time() - seconds
    for dirpath, dirnames, filenames in os.walk(path, topdown=False):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (t, t), follow_symlinks=False)
    os.utime(path, (t, t), follow_symlinks=False)


def test_killed_promote_leaves_a_slot_that_fsck_reports_and_repair_removes(repo):
    repo.add("m", b"weights" * 1000)
    proc = repo("promote", "m@0.1.0", "staging", env={"MVC_CRASH_AT": "deploy:staged"}, check=False)
    assert proc.returncode != 0
    folder = repo.mvc_dir / "deploy" / "m" / "staging"
    left = [p for p in folder.iterdir() if p.name.startswith(".tmp-slot-")]
    assert left, list(folder.iterdir())
    doc = repo.json("fsck")  # young: it may belong to a promote that is running
    assert any(left[0].name in n for n in doc["notes"])
    _age(left[0])
    proc = repo("fsck", check=False)
    assert proc.returncode == 3 and left[0].name in proc.stdout + proc.stderr
    repo("fsck", "--repair")
    assert not left[0].exists()
    assert repo("fsck").returncode == 0


def test_interrupted_push_leaves_an_upload_that_fsck_reports_and_repair_removes(repo, tmp_path):
    remote = tmp_path / "remote"
    repo("remote", "add", "origin", str(remote))
    repo.add("m", b"weights")
    repo("push")
    upload = write(remote / "tmp" / "upload-0123456789abcdef", b"half an object")
    doc = repo.json("fsck")
    assert any("upload-0123456789abcdef" in n for n in doc["notes"])
    _age(upload)
    proc = repo("fsck", check=False)
    assert proc.returncode == 3 and "upload-0123456789abcdef" in proc.stdout + proc.stderr
    repo("fsck", "--repair")
    assert not upload.exists()
    assert repo("fsck").returncode == 0
    assert [p.name for p in (remote / "objects").rglob("*") if p.is_file()]  # objects untouched
