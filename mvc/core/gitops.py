"""Working beside git: pointer files (``PATH.mvc``), .gitignore entries, the commit and
annotated tag of ``mvc add --git`` (``record_add``), and the hooks that keep clones' models in step.

Model bytes never go into git; only the small TOML pointer does.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from mvc.core.atomic import write_atomic
from mvc.core.errors import ConflictError, UserError
from mvc.core.refs import format_ref

if TYPE_CHECKING:
    from mvc.core.layout import Layout

if TYPE_CHECKING:
    from mvc.core.session import Session

POINTER_SUFFIX = ".mvc"
HOOK_MARK = "# installed by mvc hooks install"
HOOKS = {
    "post-checkout": 'exec mvc -C "$(git rev-parse --show-toplevel)" checkout\n',
    "post-merge": 'exec mvc -C "$(git rev-parse --show-toplevel)" checkout\n',
    "pre-push": 'exec mvc -C "$(git rev-parse --show-toplevel)" push --pointers\n',
}


@dataclass(frozen=True)
class Pointer:
    path: Path  # the pointer file
    model: str
    version: str
    digest: str
    size: int
    kind: str

    @property
    def target(self) -> Path:
        return self.path.with_name(self.path.name[: -len(POINTER_SUFFIX)])


def open_work_tree(path: Path):
    """The GitPython repository around ``path``; UserError when there is none."""
    from mvc.core.provenance import open_git

    repo = open_git(path)
    if repo is None or repo.bare:
        raise UserError(f"{path} is not inside a git work tree; run 'git init' or drop --git")
    return repo


def stage_settings(layout: "Layout") -> tuple[str, ...]:
    """Inside a git work tree, stage ``.mvc/config.toml`` and ``.mvc/.gitignore`` (like
    ``dvc init``), so that a clone carries the settings; the paths staged."""
    from mvc.core.provenance import open_git

    git_repo = open_git(layout.work_dir)
    if git_repo is None:
        return ()
    try:
        root = Path(git_repo.working_tree_dir).resolve()
        files = [str(p.resolve().relative_to(root)) for p in (layout.config, layout.gitignore)]
    except ValueError:  # .mvc lies outside the work tree (MVC_DIR)
        git_repo.close()
        return ()
    git_repo.index.add(files)
    git_repo.index.write()
    git_repo.close()
    return tuple(files)


def pointer_text(model: str, version: str, digest: str, size: int, kind: str) -> str:
    import tomli_w

    return "# mvc pointer: the bytes live in the mvc object store, not in git\n" + tomli_w.dumps(
        {"model": model, "version": version, "digest": digest, "size": size, "kind": kind}
    )


def read_pointer(path: Path) -> Pointer:
    """The pointer file ``path``: a regular file of at most 64 KiB (a FIFO named ``x.mvc``
    would block the post-checkout hook), else UserError."""
    from mvc.core.inputs import POINTER_FILE_LIMIT, read_capped

    raw = read_capped(path, "pointer file", POINTER_FILE_LIMIT)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
        return Pointer(Path(path), str(data["model"]), str(data["version"]), str(data["digest"]),
                       int(data["size"]), str(data.get("kind", "file")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} is not a valid mvc pointer file ({exc}); restore it from git") from None


def pointer_path(target: Path) -> Path:
    """The pointer file of ``target``: ``PATH.mvc`` beside it."""
    target = Path(target).absolute()
    return target.with_name(target.name + POINTER_SUFFIX)


def pointer_current(target: Path, version: Any) -> bool:
    """Whether ``target``'s pointer file names ``version`` (a registry version row) already."""
    try:
        p = read_pointer(pointer_path(target))
    except UserError:
        return False
    return (p.model, p.version, p.digest) == (version.model, version.version, version.digest)


def record_add(target: Path, version: Any) -> dict[str, Any]:
    """``add --git``: write ``PATH.mvc`` for ``version`` (a registry version row), ignore
    PATH in git, commit the pointer and the .gitignore, and tag ``NAME@vVERSION``."""
    work_tree = open_work_tree(Path(target).absolute().parent)
    try:
        pointer = pointer_path(target)
        write_atomic(pointer, pointer_text(version.model, version.version, version.digest,
                                           version.size, version.kind).encode())
        gitignore = ignore(Path(target).absolute())
        tag = f"{version.model}@v{version.version}"
        commit = commit_and_tag(work_tree, [pointer, gitignore],
                                f"Model version: {format_ref(version.model, version.version)}", tag)
    finally:
        work_tree.close()
    return {"pointer": str(pointer), "commit": commit, "tag": tag}


def find_pointers(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in (".git", ".mvc"))
        for name in sorted(filenames):
            if name.endswith(POINTER_SUFFIX) and len(name) > len(POINTER_SUFFIX):
                yield Path(dirpath) / name


def ignore(path: Path) -> Path:
    """Add ``/NAME`` for ``path`` to the .gitignore beside it (created if needed)."""
    gitignore = path.parent / ".gitignore"
    entry = "/" + path.name
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    if entry not in lines and path.name not in lines:
        lines.append(entry)
        write_atomic(gitignore, ("\n".join(lines) + "\n").encode("utf-8"))
    return gitignore


def _git_failed(exc) -> UserError:
    detail = (exc.stderr or str(exc)).strip().splitlines()
    return UserError(f"git failed: {detail[-1] if detail else exc}")


def _check_new_tag(repo, tag: str) -> None:
    if tag in [t.name for t in repo.tags]:
        raise ConflictError(f"git tag {tag} exists already; delete it and try again")


def commit_and_tag(repo, files: list[Path], message: str, tag: str) -> str:
    """Commit just ``files`` with ``message`` and create the annotated ``tag``; the commit sha."""
    import git

    root = Path(repo.working_tree_dir).resolve()
    rel = [str(Path(f).resolve().relative_to(root)) for f in files]
    _check_new_tag(repo, tag)
    try:
        repo.git.add("--", *rel)
        repo.git.commit("-m", message, "--", *rel)
        repo.create_tag(tag, message=message)
    except git.GitCommandError as exc:
        raise _git_failed(exc) from None
    return repo.head.commit.hexsha


def head_commit(repo) -> str:
    """HEAD's commit sha; UserError when the repository has no commit yet."""
    try:
        return repo.head.commit.hexsha
    except ValueError:
        raise UserError("git has no commit to tag yet; commit something first") from None


def tag_head(repo, tag: str, message: str) -> str:
    """Create the annotated ``tag`` on HEAD; the commit sha."""
    import git

    commit = head_commit(repo)
    _check_new_tag(repo, tag)
    try:
        repo.create_tag(tag, message=message)
    except git.GitCommandError as exc:
        raise _git_failed(exc) from None
    return commit


def check_taggable(path: Path) -> None:
    """Refuse (UserError) unless ``path`` is inside a git work tree with a commit to tag."""
    work_tree = open_work_tree(path)
    try:
        head_commit(work_tree)
    finally:
        work_tree.close()


def tag_promotion(session: "Session", model: str, channel: str, ref: str) -> dict[str, str]:
    """``promote --git``: the annotated tag ``NAME#CHANNEL#N`` (GTO's format; N counts the
    channel's moves) on HEAD of the work tree around the repository; the tag and its commit."""
    tag = f"{model}#{channel}#{len(session.registry.channel_history(model, channel))}"
    work_tree = open_work_tree(session.layout.work_dir)
    try:
        commit = tag_head(work_tree, tag, f"Promote {ref} to {channel}")
    finally:
        work_tree.close()
    return {"tag": tag, "commit": commit}


def install_hooks(repo, force: bool) -> list[str]:
    """Write mvc's hooks into the repository's hooks folder; a foreign hook needs ``force``."""
    hooks_dir = Path(repo.git_dir) / "hooks"
    hooks_dir.mkdir(parents=True, exist_ok=True)
    foreign = []
    for name in HOOKS:
        hook = hooks_dir / name
        if hook.exists() and HOOK_MARK not in hook.read_text(encoding="utf-8", errors="replace"):
            foreign.append(name)
    if foreign and not force:
        raise ConflictError(
            f"git hooks {', '.join(foreign)} exist and are not mvc's; use --force to replace them"
        )
    written = []
    for name, body in HOOKS.items():
        hook = hooks_dir / name
        write_atomic(hook, f"#!/bin/sh\n{HOOK_MARK}\n{body}".encode(), mode=0o755)
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(str(hook))
    return written
