"""Working beside git: pointer files (``PATH.mvc``), .gitignore entries, the pointer commit
of ``mvc add --git`` (``plan_add``, ``record_add``; its tag is gittags.py's), and the hooks
that keep clones' models in step.

Model bytes never go into git; only the small TOML pointer does.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from mvc.core.atomic import write_atomic
from mvc.core.errors import ConflictError, UserError
from mvc.core.refs import format_ref

if TYPE_CHECKING:
    from mvc.core.layout import Layout

if TYPE_CHECKING:
    from mvc.core.gittags import TagPlan
    from mvc.core.session import Session

POINTER_SUFFIX = ".mvc"


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

    if shown(path) != str(path):
        raise UserError(f"{shown(path)} has a name that is not valid UTF-8, which mvc refuses; "
                        "rename it (git mv) to a UTF-8 name")
    raw = read_capped(path, "pointer file", POINTER_FILE_LIMIT)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
        return Pointer(Path(path), str(data["model"]), str(data["version"]), str(data["digest"]),
                       int(data["size"]), str(data.get("kind", "file")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} is not a valid mvc pointer file ({exc}); restore it from git") from None


def shown(path: Path | str) -> str:
    """``path`` as text that can be printed: a name that is not UTF-8 (git hands such names
    over, surrogate-escaped) gets U+FFFD where its bad bytes are."""
    return os.fsencode(path).decode("utf-8", "replace")


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


def _relative(path: Path, root: Path) -> str:
    return Path(path).resolve().relative_to(root.resolve()).as_posix()


def plan_add(target: Path, version: Any, created: bool) -> "TagPlan | None":
    """``add --git``, inside the add's unit of work: the tag ``NAME@vVERSION`` for ``version``
    (a registry version row), checked against git's tags before the registry commits; None when
    there is nothing to record (a rerun whose pointer file names the version already). A tag
    that exists is kept when its commit's pointer file names the same bytes (a teammate's)."""
    from mvc.core import gittags

    if not created and pointer_current(target, version):
        return None
    root = gittags.work_tree(Path(target).absolute().parent)
    rel = _relative(pointer_path(target), root)

    def says_same(commit: str) -> bool:
        try:
            data = tomllib.loads(gittags.run_git(root, "show", f"{commit}:{rel}"))
        except (UserError, tomllib.TOMLDecodeError):
            return False
        return (data.get("model"), data.get("version"), data.get("digest")) == (
            version.model, version.version, version.digest)

    return gittags.plan_version(root, version, says_same)


def record_add(session: "Session", target: Path, version: Any, plan: "TagPlan") -> dict[str, Any] | None:
    """``add --git`` after the registry committed: write ``PATH.mvc`` for ``version``, ignore
    PATH in git, commit the pointer and the .gitignore (when they changed) and make the tag
    ``plan`` checked. ``{"pointer", "commit", "tag", "created"}``; None and a warning with the
    fix when git refuses (a commit hook, say): the version is registered either way."""
    from mvc.core import gittags

    pointer = pointer_path(target)
    write_atomic(pointer, pointer_text(version.model, version.version, version.digest,
                                       version.size, version.kind).encode())
    files = [_relative(p, plan.root) for p in (pointer, ignore(Path(target).absolute()))]
    ref = format_ref(version.model, version.version)
    try:
        gittags.run_git(plan.root, "add", "--", *files)
        if gittags.run_git(plan.root, "diff", "--cached", "--name-only", "--", *files):
            gittags.run_git(plan.root, "commit", "-q", "-m", f"Model version: {ref}", "--", *files)
        head = gittags.run_git(plan.root, "rev-parse", "HEAD")
    except UserError as exc:
        session.warn(f"{ref} is registered, but git could not commit its pointer file ({exc.message}); "
                     f"commit {' and '.join(files)}, then tag that commit: git tag -a {version.model}@v"
                     f"{version.version} -m 'Model version: {ref}' HEAD")
        return None
    tagged = gittags.create(session, plan, head)
    return None if tagged is None else {"pointer": str(pointer), **tagged}


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

