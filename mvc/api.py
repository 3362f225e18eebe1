"""The public Python API of mvc (SPEC §8). The CLI calls this and nothing else.

    from mvc import Repo
    repo = Repo.open(".")
    v = repo.add("model.safetensors", name="resnet", metrics={"accuracy": 0.91})
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from mvc.core import refs
from mvc.core.config import SCHEMA, Config
from mvc.core.errors import ConflictError, NotFoundError, UsageError, UserError
from mvc.core.layout import GITIGNORE, Layout, MVC_DIRNAME, find_mvc_dir
from mvc.core.names import check_model_name, check_tag_label
from mvc.core.registry.base import LineageInput, NewVersion, Registry, VersionRow
from mvc.core.session import Session, UnitOfWork
from mvc.core.semver import BUMPS, FIRST_VERSION, parse_version
from mvc.history import HistoryOps
from mvc.lifecycle import LifecycleOps
from mvc.sync import SyncOps
from mvc.trust import TrustOps
from mvc.results import AddResult, CheckoutResult, ConfigEntry, ConfigValue, InitResult, TagInfo, TagResult

if TYPE_CHECKING:
    from mvc.core.objects import ObjectStore
    from mvc.core.statcache import StatCache

Progress = Callable[[int], None] | None
EMPTY_LINEAGE = b'{"directed":true,"multigraph":false,"graph":{},"nodes":[],"edges":[]}\n'


def _strings(values: Mapping[str, Any] | Iterable[str] | None) -> tuple[list[str], dict]:
    """Split what the caller gave into ``K=V`` strings and an already-built mapping."""
    if values is None:
        return [], {}
    if isinstance(values, Mapping):
        return [], dict(values)
    return list(values), {}


class Repo(HistoryOps, SyncOps, TrustOps, LifecycleOps):
    """An mvc repository: the ``.mvc`` folder beside the user's work."""

    def __init__(self, mvc_dir: Path | str):
        self.session = Session(mvc_dir)
        self.layout = self.session.layout

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path | str = ".") -> "Repo":
        """Open the repository that contains ``path`` (walking up like git; ``MVC_DIR`` wins)."""
        return cls(find_mvc_dir(path))

    @classmethod
    def init(cls, path: Path | str = ".") -> "Repo":
        """Create a repository in ``path`` (idempotent) and return it."""
        repo, _ = cls.initialize(path)
        return repo

    @classmethod
    def initialize(cls, path: Path | str = ".") -> tuple["Repo", InitResult]:
        """Create ``.mvc/`` in ``path``; running it again changes nothing (``created`` false)."""
        root = Path(path).absolute()
        if root.exists() and not root.is_dir():
            raise UserError(f"{root} is not a directory")
        mvc_dir = Path(os.environ["MVC_DIR"]).absolute() if os.environ.get("MVC_DIR") else root / MVC_DIRNAME
        layout = Layout(mvc_dir)
        created = not layout.registry_db.is_file()
        for folder in (layout.mvc_dir, layout.objects, layout.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        from mvc.core.atomic import write_atomic

        if not layout.gitignore.exists():
            write_atomic(layout.gitignore, GITIGNORE.encode(), tmp_dir=layout.tmp)
        if not layout.config.exists():
            write_atomic(layout.config, b"", tmp_dir=layout.tmp)
        if not layout.lineage_file.exists():
            write_atomic(layout.lineage_file, EMPTY_LINEAGE, tmp_dir=layout.tmp)
        repo = cls(mvc_dir)
        staged: tuple[str, ...] = ()
        if created:
            with repo.session.change("admin", "init", str(layout.mvc_dir)) as work:
                work.event("init", str(layout.mvc_dir), {})
            staged = repo._stage_settings_in_git()
        return repo, InitResult(str(layout.mvc_dir), created, repo.registry.url, staged)

    def _stage_settings_in_git(self) -> tuple[str, ...]:
        """Inside a git work tree, stage config.toml and .gitignore (like ``dvc init``)."""
        from mvc.core.provenance import open_git

        git_repo = open_git(self.layout.work_dir)
        if git_repo is None:
            return ()
        try:
            root = Path(git_repo.working_tree_dir).resolve()
            files = [str(p.resolve().relative_to(root)) for p in (self.layout.config, self.layout.gitignore)]
        except ValueError:  # .mvc lies outside the work tree (MVC_DIR)
            return ()
        git_repo.index.add(files)
        git_repo.index.write()
        git_repo.close()
        return tuple(files)

    # -- parts, opened on first use (by the session) ------------------------------------
    @property
    def registry(self) -> Registry:
        return self.session.registry

    @property
    def store(self) -> "ObjectStore":
        return self.session.store

    @property
    def config(self) -> Config:
        return self.session.config

    @property
    def cache(self) -> "StatCache":
        return self.session.cache

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "Repo":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- small shared reads -------------------------------------------------------------
    def channel_names(self) -> tuple[str, ...]:
        """``staging``, ``production`` and every ``channels.<name>`` table in config."""
        return self.session.channel_names()

    def _resolve(self, ref: str) -> VersionRow:
        return self.session.resolve(ref)

    def _serving(self, model: str | None = None) -> dict[tuple[str, str], list[str]]:
        from mvc.core.serving import serving_map

        return serving_map(self.registry, model)

    @staticmethod
    def _state(row: VersionRow, serving: list[str]) -> str:
        from mvc.core.serving import state_of

        return state_of(row, serving)

    def _tags_by_version(self, model: str | None = None) -> dict[tuple[str, str], list[str]]:
        from mvc.core.serving import tags_by_version

        return tags_by_version(self.registry, model)

    # -- add ----------------------------------------------------------------------------
    def add(
        self,
        path: Path | str,
        name: str,
        *,
        version: str | None = None,
        bump: str | None = None,
        metrics: Mapping[str, float] | Iterable[str] | None = None,
        metrics_files: Iterable[Path | str] = (),
        params: Mapping[str, Any] | Iterable[str] | None = None,
        params_files: Iterable[Path | str] = (),
        data: Iterable[Path | str] = (),
        code: Iterable[Path | str] = (),
        parents: Iterable[str] = (),
        tags: Iterable[str] = (),
        message: str = "",
        force: bool = False,
        store_data: bool = False,
        git: bool = False,
        progress: Progress = None,
    ) -> AddResult:
        """Store ``path`` (a file or directory) and register a new version of model ``name``.

        Metrics and params are mappings or ``K=V`` strings. When the artifact, metrics and
        params equal those of the latest version, nothing is created (``created`` false)
        unless ``force``. With ``git``, also write the pointer file ``PATH.mvc``, ignore PATH
        in git, commit the pointer and create the annotated tag ``NAME@vVERSION``.
        """
        from mvc.core.metrics import check_key, collect_metrics, collect_params, metric_value

        check_model_name(name)
        if version is not None and bump is not None:
            raise UsageError("--version and --bump cannot be used together; give one of them")
        wanted = str(parse_version(version)) if version is not None else None
        bump = bump or self._default_bump()
        if bump not in BUMPS:
            raise UserError(f"invalid bump {bump!r}; use one of: major, minor, patch")
        metric_args, metric_map = _strings(metrics)
        metric_values = collect_metrics(metric_args, [Path(f) for f in metrics_files])
        metric_values.update({check_key(k, "metric"): metric_value(k, v) for k, v in metric_map.items()})
        param_args, param_map = _strings(params)
        param_values = collect_params(param_args, [Path(f) for f in params_files])
        param_values.update({check_key(k, "parameter"): v for k, v in param_map.items()})
        source = Path(path)
        _must_exist(source, "model path")
        self._check_outside_mvc_dir(source, "model path")
        data_paths = [Path(p) for p in data]
        code_paths = [Path(p) for p in code]
        for what, paths in (("--data path", data_paths), ("--code path", code_paths)):
            for p in paths:
                _must_exist(p, what)
                self._check_outside_mvc_dir(p, what)
        parent_rows = [self._resolve(r) for r in parents]
        labels = [check_tag_label(t, self.channel_names()) for t in tags]
        if git:
            from mvc.core.gitops import open_work_tree

            open_work_tree(source.absolute().parent).close()  # refuse before storing anything

        from mvc.core import artifacts
        from mvc.core.faults import crash_point
        from mvc.core.integrity import missing_objects
        from mvc.core.provenance import OVERLAP_BYTES, Background, provenance_of_cwd

        self.session.precheck("writer", "add", name)  # a denied user stores nothing
        user = self.session.user
        # Reading a big file leaves a CPU free between chunks (hashlib and os.write release
        # the GIL): record the environment and git state meanwhile instead of after.
        background = (Background(lambda: provenance_of_cwd(user))
                      if artifacts.must_read(source, self.cache, self.store, OVERLAP_BYTES) else None)
        stored = artifacts.store_path(source, self.store, self.cache, progress)
        crash_point("add:stored")
        existing = self._unchanged(name, wanted, stored.digest, metric_values, param_values, force)
        if existing is not None:
            if background is not None:
                background.wait()  # no git process outlives the command
            if labels:
                with self.session.change("writer", "tag", name) as work:
                    for label in labels:
                        self._set_tag(work, existing, label, force=False)
            recorded = self._record_in_git(source, existing) if git and not self._pointer_current(source, existing) else None
            return self._add_result(existing, created=False, git=recorded)

        inputs = self._lineage_inputs(data_paths, code_paths, parent_rows, store_data, progress)
        # not "git": that is the --git flag
        env, provenance = background.result() if background is not None else provenance_of_cwd(user)
        with self.session.change("writer", "add", name) as work:
            existing = self._unchanged(name, wanted, stored.digest, metric_values, param_values, force)
            if existing is not None:  # another process added the same thing meanwhile
                return self._add_result(existing, created=False)
            if missing_objects(self.store, stored):  # removed by gc since we wrote them
                stored = artifacts.store_path(source, self.store, self.cache, progress)
            crash_point("add:locked")
            number = wanted or self._next_version(name, bump)
            row = self.registry.insert_version(NewVersion(
                model=name, version=number, digest=stored.digest, size=stored.size, kind=stored.kind,
                path_name=stored.name, message=message, metrics=metric_values, params=param_values,
                env=env, git=provenance, created_at=work.ts, created_by=work.user,
            ))
            self.registry.add_lineage(row.id, inputs)
            work.event("add", refs.format_ref(name, number),
                       {"digest": stored.digest, "size": stored.size, "kind": stored.kind})
            for label in labels:
                self._set_tag(work, row, label, force=False)
            crash_point("add:before-commit")
        self._write_lineage()
        return self._add_result(row, created=True, git=self._record_in_git(source, row) if git else None)

    def _check_outside_mvc_dir(self, source: Path, what: str) -> None:
        # A path holding the repository's own store (mvc add .) would copy or hash the store
        # itself and snapshot a database that is being written.
        src, store = source.resolve(), self.layout.mvc_dir.resolve()
        if src == store or store in src.parents or src in store.parents:
            raise UserError(
                f"{what} {source} contains or lies in the mvc repository {store}; "
                "name the model's, data's or code's own file or folder"
            )

    def _default_bump(self) -> str:
        return self.config.value("version.default_bump")

    def _unchanged(self, name: str, wanted: str | None, digest: str, metrics: dict, params: dict,
                   force: bool) -> VersionRow | None:
        rows = self.registry.versions(name)
        latest = refs.latest_of(rows)
        if wanted is not None and any(r.version == wanted for r in rows):
            if (not force and latest is not None and latest.version == wanted
                    and (latest.digest, latest.metrics, latest.params) == (digest, metrics, params)):
                return latest
            raise ConflictError(
                f"{name}@{wanted} exists already; choose another --version or let mvc bump it"
            )
        if force or wanted is not None or latest is None:
            return None
        if (latest.digest, latest.metrics, latest.params) == (digest, metrics, params):
            return latest
        return None

    def _next_version(self, name: str, bump: str) -> str:
        latest = refs.latest_of(self.registry.versions(name))
        return str(FIRST_VERSION if latest is None else parse_version(latest.version).bump(bump))

    def _lineage_inputs(self, data: list[Path], code: list[Path], parents: list[VersionRow],
                        store_data: bool, progress: Progress) -> list[LineageInput]:
        from mvc.core import artifacts
        from mvc.core.provenance import git_file_info

        inputs: list[LineageInput] = []
        for p in data:
            if store_data:
                s = artifacts.store_path(p, self.store, self.cache, progress)
                digest, size, kind = s.digest, s.size, s.kind
            else:
                digest, size, kind = artifacts.hash_path(p, self.cache, progress)
            inputs.append(LineageInput("data", digest, str(p.absolute()),
                                       {"size": size, "kind": kind, "stored": store_data}))
        for p in code:
            digest, size, kind = artifacts.hash_path(p, self.cache, progress)
            inputs.append(LineageInput("code", digest, str(p.absolute()),
                                       {"size": size, "kind": kind, "git": git_file_info(p.absolute())}))
        for row in parents:
            inputs.append(LineageInput("model", row.digest, None, {}, (row.model, row.version)))
        return inputs

    def _add_result(self, row: VersionRow, created: bool, git: dict | None = None) -> AddResult:
        state = self._state(row, self._serving(row.model).get((row.model, row.version), []))
        return AddResult(refs.format_ref(row.model, row.version), row.model, row.version,
                         row.digest, row.size, row.kind, state, created, git)

    # -- checkout -----------------------------------------------------------------------
    def checkout(self, ref: str, output: Path | str | None = None, *, link: str = "copy",
                 force: bool = False, progress: Progress = None) -> CheckoutResult:
        """Write the artifact ``ref`` names to ``output`` (default: its original name in the
        current directory), verified; never overwrites a different file without ``force``."""
        from mvc.core import artifacts

        row = self._resolve(ref)
        if output is None:
            dest = Path.cwd() / row.path_name
        else:
            dest = Path(output)
            if row.kind == "file" and dest.is_dir() and not dest.is_symlink():
                dest = dest / row.path_name
        stored = artifacts.Stored.of(row, self.store)
        writer = artifacts.Materializer(self.store, self.cache, link, progress)
        done = writer.materialize(stored, dest, force)
        return CheckoutResult(refs.format_ref(row.model, row.version), row.digest, row.kind,
                              str(done.path), link, done.written, done.files, done.bytes)

    # -- tags ---------------------------------------------------------------------------
    def tag(self, ref: str, label: str, *, force: bool = False, message: str | None = None) -> TagResult:
        """Put ``label`` on the version ``ref`` names; moving an existing tag needs ``force``.
        ``message`` (why) is kept in the audit event."""
        row = self._resolve(ref)
        check_tag_label(label, self.channel_names())
        with self.session.change("writer", "tag", row.model) as work:
            action = self._set_tag(work, row, label, force, message)
        return TagResult(row.model, label, row.version, refs.format_ref(row.model, row.version), action)

    def _set_tag(self, work: UnitOfWork, row: VersionRow, label: str, force: bool,
                 message: str | None = None) -> str:
        current = {t[1]: t[2] for t in self.registry.tags(row.model)}.get(label)
        if current == row.version:
            return "unchanged"
        if current is not None and not force:
            raise ConflictError(
                f"tag {label!r} is on {row.model}@{current} already; use --force to move it"
            )
        self.registry.set_tag(row.model, label, row.version, work.user, work.ts)
        action = "moved" if current is not None else "created"
        details = {"tag": label, "version": row.version}
        if current is not None:
            details["from"] = current
        work.event("tag", refs.format_ref(row.model, row.version), details, message)
        return action

    def untag(self, name: str, label: str, *, message: str | None = None) -> TagResult:
        """Remove tag ``label`` from model ``name``; ``message`` is kept in the audit event."""
        check_model_name(name)
        with self.session.change("writer", "untag", name) as work:
            current = {t[1]: t[2] for t in self.registry.tags(name)}.get(label)
            if current is None:
                if not self.registry.versions(name):
                    self._resolve(name)
                raise NotFoundError(f"{name} has no tag {label!r}; 'mvc tag {name}' lists its tags")
            self.registry.delete_tag(name, label)
            work.event("untag", refs.format_ref(name, current), {"tag": label, "version": current}, message)
        return TagResult(name, label, current, refs.format_ref(name, current), "deleted")

    def tags(self, name: str) -> list[TagInfo]:
        """The tags of model ``name``."""
        check_model_name(name)
        if not self.registry.versions(name):
            self._resolve(name)
        return [TagInfo(m, label, v, refs.format_ref(m, v), ts) for m, label, v, ts in self.registry.tags(name)]

    # -- config -------------------------------------------------------------------------
    def config_get(self, key: str) -> ConfigEntry:
        """The value in effect for ``key``: set in config.toml (``origin`` "config") or the
        schema's default ("default"). An unknown key that is not set is a UserError."""
        value, origin = self.config.effective(key)
        return ConfigEntry(key, value, "get", origin)

    def config_list(self) -> dict[str, Any]:
        """Every key set in config.toml, flattened to dotted names."""
        return self.config.items()

    def config_all(self) -> list[ConfigValue]:
        """Every known key with the value in effect and its origin (``default`` or
        ``config``), and every other key set in config.toml; sorted by key. A key with no
        default that is not set has the value None."""
        values = {k: ConfigValue(k, v, "config") for k, v in self.config.items().items()}
        for name, key in SCHEMA.items():
            if "*" not in name and name not in values:
                values[name] = ConfigValue(name, key.default, "default")
        return [values[k] for k in sorted(values)]

    def config_set(self, key: str, value: Any) -> ConfigEntry:
        """Set ``key``, a key of the schema (``mvc.core.config.SCHEMA``), to a value of its
        type; text is parsed as a TOML scalar where it parses (except for a key that holds
        text). Keys that decide trust (``registry.*``, ``channels.*.deploy_dir``,
        ``remote.*``, ``core.remote``) need the admin role, the others maintainer."""
        from mvc.core import config

        if isinstance(value, str):
            value = config.value_from_text(key, value)
        config.check(key, value)
        with self.session.change(_config_role(key), "config", key) as work:
            self.config.set(key, value)
            work.event("config", key, {"value": value})
        return ConfigEntry(key, value, "set")

    def config_unset(self, key: str) -> ConfigEntry:
        """Remove ``key`` (a value, or a whole table) from config.toml."""
        with self.session.change(_config_role(key, self.config.get_set(key)), "config", key) as work:
            old = self.config.unset(key)
            work.event("config", key, {"unset": True})
        return ConfigEntry(key, old, "unset")


def _must_exist(path: Path, what: str) -> None:
    if not os.path.lexists(path):
        raise UserError(f"{what} {path} does not exist; check the path")
    if not path.exists():
        raise UserError(f"{what} {path} is a broken symlink")


def _config_role(key: str, value: Any = None) -> str:
    from mvc.core.config import needs_admin

    return "admin" if needs_admin(key, value) else "maintainer"
