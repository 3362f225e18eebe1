"""What mvc's pre-push hook pushes (hooks.py installs it): the pointer files that the commits
being pushed introduce or hold at their tips, read from git's objects, and the versions they
name that the remote lacks. Git is run as a subprocess (gitcommand.py), as in hooks.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from mvc.core.errors import UserError
from mvc.core.gitcommand import run, run_git
from mvc.core.hooks import POINTER_PATHSPEC, is_pointer_name


def pushed_commits(work_dir: Path, refs_text: str) -> tuple[list[str], list[str]]:
    """The commits being pushed, from what git hands pre-push on standard input
    (``<local ref> <local sha> <remote ref> <remote sha>`` a line; deletions carry none), and
    the remote's tips that this repository has (what the remote has already)."""
    found, known = [], []
    for parts in (line.split() for line in refs_text.splitlines()):
        if len(parts) == 4 and parts[1].strip("0"):
            found.append(parts[1])
        if len(parts) == 4 and parts[3].strip("0"):
            has = run(work_dir, "cat-file", "-e", f"{parts[3]}^{{commit}}", check=False)
            if has is not None and has.ok:
                known.append(parts[3])
    return list(dict.fromkeys(found)), known


def _pointer_blobs(work_dir: Path, commits: list[str], known: list[str]) -> tuple[dict, dict, set]:
    """(blob sha -> where) of the pointer files that ``commits`` and the commits before them
    no remote-tracking branch has yet wrote (as git-lfs pushes what the pushed commits
    introduce), and of the others at the pushed tips; and every pointer blob at the tips."""
    introduced: dict[str, str] = {}
    # -z: names as they are (without it git quotes one that is not ASCII: "mod\303\250le.mvc")
    log = iter(run_git(work_dir, "log", "--raw", "-z", "--no-abbrev", "--no-renames", "--format=commit %H",
                       *commits, "--not", "--remotes", *known, "--", POINTER_PATHSPEC, raw=True).split("\0"))
    commit = ""
    for token in log:
        token = token.lstrip("\n")
        if token.startswith("commit "):
            commit = token[7:19]
        elif token.startswith(":"):
            fields, name = token.split(), next(log, "")
            if len(fields) == 5 and fields[4] != "D" and fields[1].startswith("100") and is_pointer_name(name):
                introduced.setdefault(fields[3], f"{_shown(name)} in {commit}")
    at_tips: dict[str, str] = {}
    tips: set[str] = set()
    for commit in commits:
        for entry in run_git(work_dir, "ls-tree", "-r", "-z", commit, raw=True).split("\0"):
            meta, _, name = entry.partition("\t")
            sha = meta.split()[2:3]
            if is_pointer_name(name) and meta.split()[1:2] == ["blob"]:
                tips.add(sha[0])
                if sha[0] not in introduced:
                    at_tips.setdefault(sha[0], f"{_shown(name)} in {commit[:12]}")
    return introduced, at_tips, tips


def _shown(name: str) -> str:
    """A name git gave, printable (its bytes that are not UTF-8 as U+FFFD), as gitops.shown."""
    return os.fsencode(name).decode("utf-8", "replace")


def pointers_in_commits(work_dir: Path, commits: list[str], known: tuple[str, ...] | list[str] = (),
                        warn: Callable[[str], None] = lambda line: None) -> tuple[list, list]:
    """The artifacts (integrity.Artifact) that the pointer files under ``work_dir`` name in
    the commits being pushed: (those the commits that no remote-tracking branch has yet
    introduce or change, whose objects the remote must get; those already pushed that are
    at the tips, pushed too when this store has them). A pointer file among the first that
    is not one is an error when a pushed tip holds it (a teammate would get a pointer file
    naming nothing); one that a later commit fixed or removed is named to ``warn``, with its
    commit: it names no object to push, and refusing would block the push until history is
    rewritten."""
    import tomllib

    from mvc.core.integrity import Artifact
    from mvc.core.names import DIGEST_RE

    introduced, at_tips, tips = _pointer_blobs(work_dir, commits, list(known))
    blobs = {**introduced, **at_tips}
    if not blobs:
        return [], []
    batch = run(work_dir, "cat-file", "--batch", text=False, stdin="".join(f"{sha}\n" for sha in blobs).encode())
    out, pos = bytes(batch.stdout), 0  # type: ignore[union-attr]  # strict: never None
    found: tuple[dict, dict] = ({}, {})
    for sha, where in blobs.items():
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        size = int(header[2]) if len(header) == 3 else -1
        text = out[header_end + 1:header_end + 1 + size] if size >= 0 else b""
        pos = header_end + 1 + max(size, 0) + (1 if size >= 0 else 0)
        try:
            data = tomllib.loads(text.decode("utf-8"))
            art = Artifact(str(data["digest"]), str(data.get("kind", "file")), where)
            if not DIGEST_RE.match(art.digest):
                raise KeyError("digest")
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError):
            bad = f"{where.replace(' in ', ' in commit ', 1)} is not a valid mvc pointer file"
            if sha in tips and sha not in at_tips:
                raise UserError(f"{bad}; fix it (or git rm it), commit, and push again ('mvc status' says what "
                                "is wrong)") from None
            if sha not in at_tips:
                warn(f"{bad}, and a later commit replaced it, so no model object is pushed for it")
            continue
        found[sha in at_tips].setdefault((art.digest, art.kind), art)
    return list(found[0].values()), [a for k, a in found[1].items() if k not in found[0]]


def to_push(session, commits: list[str], remote_name: str | None,
            known: tuple[str, ...] | list[str] = ()) -> list:
    """What pre-push must send for ``commits``: the artifacts they introduce (one that this
    store lacks is fine when the remote has it already, else IntegrityError naming it) and
    those at the tips that this store holds."""
    from mvc.core.errors import IntegrityError
    from mvc.core.remotes import open_remote

    introduced, at_tips = pointers_in_commits(session.layout.work_dir, commits, known, session.warn)
    store, remote, gone = session.store, None, []
    for art in introduced:
        if not store.complete(art.digest):
            remote = remote or open_remote(session, remote_name)
            if not remote.has(art.digest):
                gone.append(f"{art.who} ({art.digest})")
    if gone:
        raise IntegrityError(f"the objects of {', '.join(gone)} are neither in this store nor on the remote; "
                             "add the model again (mvc add) or push from the machine that has them")
    return [a for a in introduced if store.complete(a.digest)] + [a for a in at_tips if store.complete(a.digest)]
