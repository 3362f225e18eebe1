"""A command that has committed its change reports success; derived work that fails after
that (the deploy folder, the lineage file) is a warning, and fsck --repair restores it
(SPEC §10, issue 10 item 9)."""

from __future__ import annotations

import shutil


def test_a_deploy_folder_that_cannot_be_switched_after_the_commit_is_a_warning(repo):
    repo.add("m", b"A")
    repo("promote", "m@0.1.0", "staging")
    repo.add("m", b"B")
    folder = repo.mvc_dir / "deploy" / "m" / "staging"
    # the check runs just before the commit; what it leaves makes the switch after it fail
    sabotage = f"rm -f {folder}/routing.json && mkdir -p {folder}/routing.json/x"
    proc = repo("promote", "m@0.1.1", "staging", "--check", sabotage, "--json")
    assert proc.returncode == 0
    assert proc.stderr.startswith("mvc: warning: the deploy folder") and "fsck --repair" in proc.stderr
    assert repo.json("resolve", "m", "--channel", "staging")["version"] == "0.1.1"
    assert repo.json("audit")[0]["action"] == "promote"
    shutil.rmtree(folder / "routing.json")  # the cause goes away
    assert repo("fsck", check=False).returncode == 3
    repo("fsck", "--repair")
    assert '"0.1.1"' in (folder / "routing.json").read_text()
    assert repo.json("fsck")["problems"] == []


def test_a_lineage_file_that_cannot_be_written_is_a_warning(repo):
    repo.add("m", b"A")
    lineage = repo.mvc_dir / "lineage.json"
    lineage.unlink()
    (lineage / "x").mkdir(parents=True)
    proc = repo("lineage", "m@0.1.0", "--json")
    assert proc.returncode == 0 and '"model:m@0.1.0"' in proc.stdout
    assert proc.stderr.startswith("mvc: warning: the lineage file") and "fsck --repair" in proc.stderr
    shutil.rmtree(lineage)
    repo("fsck", "--repair")
    assert lineage.is_file() and repo.json("fsck")["problems"] == []
