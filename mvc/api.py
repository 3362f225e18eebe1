"""The public Python API of mvc (SPEC §8). The CLI calls this and nothing else.

    from mvc import Repo
    repo = Repo.open(".")
    v = repo.add("model.safetensors", name="resnet", metrics={"accuracy": 0.91})
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from mvc.argtypes import check_arguments
from mvc.core import refs
from mvc.core.config import SCHEMA, Config
from mvc.core.errors import IntegrityError, NotARepositoryError, UsageError, UserError, option
from mvc.core.layout import GITIGNORE, Layout, MVC_DIRNAME, find_mvc_dir
from mvc.core.names import check_model_name, check_tag_label
from mvc.core.registry.base import Registry, VersionRow
from mvc.core.session import Session
from mvc.core.semver import BUMPS, parse_version
from mvc.history import HistoryOps
from mvc.lifecycle import LifecycleOps
from mvc.sync import SyncOps
from mvc.trust import TrustOps

if TYPE_CHECKING:
    from mvc.results.labels import ConfigEntry, ConfigValue, TagInfo, TagResult
    from mvc.results.changes import AddResult, CheckoutResult, InitResult
    from mvc.core.objects import ObjectStore
    from mvc.core.statcache import StatCache

Progress = Callable[[int], None] | None


def _strings(values: Mapping[str, Any] | Iterable[str] | None) -> tuple[list[str], dict]:
    """Split what the caller gave into ``K=V`` strings and an already-built mapping."""
    if values is None:
        return [], {}
    if isinstance(values, Mapping):
        return [], dict(values)
    return _items(values), {}


def _items(values: Any) -> list:
    """What the caller gave as a list: one string or path is one item, not its characters
    (``tags="best"`` is the tag best, not four tags b, e, s, t)."""
    return [values] if isinstance(values, (str, bytes, os.PathLike)) else list(values)


def _utf8(text: str, what: str) -> str:
    """``text`` when it is text mvc can store and print (UTF-8: a str from a non-UTF-8 file
    name holds lone surrogates); UserError otherwise, as the CLI refuses its arguments."""
    if not isinstance(text, str):
        raise UserError(f"{what} must be text, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(f"{what} {text!r} is not valid UTF-8 text") from None
    return text


def _once(paths) -> tuple[Path, ...]:
    """Input paths, each once (``--data d.csv --data ./d.csv`` is one input)."""
    return tuple({Path(p).absolute(): Path(p) for p in paths}.values())


def _shared_sqlite_file(url: str | None, layout: Layout) -> Path | None:
    """The SQLite file ``registry.url`` names, when it is not this repository's own."""
    from mvc.core.registry import sqlite_file

    path = sqlite_file(url, layout.registry_db)
    return None if os.path.realpath(path) == os.path.realpath(layout.registry_db) else path


def _check_registry_choice(layout: Layout, url: str) -> None:
    """``mvc init --registry URL``: a URL config accepts (no password: config.toml is shared
    through git), and not a second registry for a repository that has one."""
    from mvc.core.config import check

    check("registry.url", url)
    if layout.config.is_file():
        current = Config(layout.config).value("registry.url")
        has_one = current is not None or (layout.registry_db.is_file() and layout.registry_db.stat().st_size > 0)
        if has_one and current != url:
            raise UserError(f"this repository already uses the registry {current or layout.registry_db}; "
                            "'mvc init --registry' only sets up a new one")


@check_arguments  # a wrong type is an ArgumentTypeError naming the argument, before anything runs
class Repo(HistoryOps, SyncOps, TrustOps, LifecycleOps):
    """An mvc repository: the ``.mvc`` folder beside the user's work."""

    def __init__(self, mvc_dir: Path | str):
        if (Path(mvc_dir) / MVC_DIRNAME).is_dir() and Path(mvc_dir).name != MVC_DIRNAME:
            # a work tree passed for its .mvc folder: its registry would be "missing"
            raise NotARepositoryError(f"{mvc_dir} holds a repository's {MVC_DIRNAME} folder; Repo() takes that "
                                      f"folder: use Repo.open({str(mvc_dir)!r}) to open the repository there")
        self.session = Session(mvc_dir)
        self.layout = self.session.layout

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path | str = ".") -> "Repo":
        """Open the repository that contains ``path`` (walking up like git; ``MVC_DIR`` wins)."""
        return cls(find_mvc_dir(path))

    @classmethod
    def init(cls, path: Path | str = ".", registry: str | None = None) -> "Repo":
        """Create a repository in ``path`` (idempotent) and return it."""
        repo, _ = cls.initialize(path, registry)
        return repo

    @classmethod
    def initialize(cls, path: Path | str = ".", registry: str | None = None) -> tuple["Repo", InitResult]:
        """Create ``.mvc/`` in ``path``; running it again changes nothing (``created`` false).
        ``registry`` (a ``postgresql://`` URL without a password) puts the registry on a
        server, shared by every clone: its schema is created, or joined when it exists."""
        root = Path(path).absolute()
        if root.exists() and not root.is_dir():
            raise UserError(f"{root} is not a directory")
        inside = next((p for p in (root, *root.parents) if p.name == MVC_DIRNAME), None)
        if inside is not None:  # its fsck would take the new repository for strays and remove it
            raise UserError(f"{root} is inside {inside}, a repository's own folder; make the repository elsewhere")
        mvc_dir = Path(os.environ["MVC_DIR"]).absolute() if os.environ.get("MVC_DIR") else root / MVC_DIRNAME
        layout = Layout(mvc_dir)
        from mvc.core import registry_identity
        from mvc.core.registry import is_server_url

        repo = cls(mvc_dir)
        made_on_server = None
        if registry is not None:  # checked, and made or joined on a server, before anything is written here
            _check_registry_choice(layout, registry)
            if not is_server_url(registry):  # a file fsck --repair takes for a stray, or relative: refused
                from mvc.core.registry_move import check_url

                check_url(repo.session, registry)
            if is_server_url(registry):
                made_on_server = repo.session.create_registry(registry).created
        # an empty file is what a killed init leaves (SQLite writes nothing before its schema)
        created = not layout.registry_db.is_file() or layout.registry_db.stat().st_size == 0
        fresh = not layout.config.exists()  # its settings are new: git stages them, joined or made
        for folder in (layout.mvc_dir, layout.objects, layout.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        from mvc.core.atomic import write_atomic
        from mvc.core.lineage_file import empty_bytes

        if not layout.gitignore.exists():
            write_atomic(layout.gitignore, GITIGNORE.encode(), tmp_dir=layout.tmp)
        if not layout.config.exists():
            write_atomic(layout.config, b"", tmp_dir=layout.tmp)
        if not layout.lineage_file.exists():
            write_atomic(layout.lineage_file, empty_bytes(), tmp_dir=layout.tmp)
        if registry is not None and repo.config.value("registry.url") != registry:
            repo.config.set("registry.url", registry)
        staged: tuple[str, ...] = ()
        shared = _shared_sqlite_file(repo.config.value("registry.url"), layout)
        if shared is not None:  # a team's file (a clone joins it): made here only when it was not there
            created = not shared.is_file() or shared.stat().st_size == 0
            if created and registry_identity.recorded(layout) is not None:
                raise IntegrityError(
                    f"the shared registry {shared}, which this work dir used (see {layout.registry_id}), is gone; "
                    "mvc init will not start a fresh one in its place for the whole team: restore it from a backup, "
                    f"or, if the team really starts again, delete {layout.registry_id} and run mvc init")
        if made_on_server is not None:
            created = made_on_server
        elif is_server_url(repo.config.value("registry.url")):  # a clone joins its team's registry
            registry_identity.refuse_a_lost_one(repo.session)
            created = repo.session.create_registry().created
        elif created:
            repo.session.create_registry()
        if created:
            with repo.session.change("admin", "init", str(layout.mvc_dir)) as work:
                work.event("init", str(layout.mvc_dir), {})
            registry_identity.record(layout, repo.registry)
        else:
            registry_identity.record_if_missing(repo.session)
        if created or fresh:
            from mvc.core.gitops import stage_settings

            staged = stage_settings(layout, repo.session.warn)
        from mvc.results.changes import InitResult

        return repo, InitResult(str(layout.mvc_dir), created, repo.registry.url, staged)

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
        message: str | None = "",
        force: bool = False,
        store_data: bool = False,
        git: bool = False,
        follow_links: bool = False,
        progress: Progress = None,
    ) -> AddResult:
        """Store ``path`` (a file or directory) and register a new version of model ``name``.

        Metrics and params are mappings or ``K=V`` strings. When the artifact, metrics and
        params equal those of the latest version, nothing is created (``created`` false)
        unless ``force``. With ``git``, also write the pointer file ``PATH.mvc``, ignore PATH
        in git, commit the pointer and create the annotated tag ``NAME@vVERSION``; a tag of
        that name that registers other bytes refuses the add (``ConflictError``) before
        anything is registered, one that registers the same is kept. With ``follow_links``
        (as ``cp -L``), a link in a folder read (PATH, --data, --code) is stored as what it
        points to, wherever that lies (a Hugging Face cache snapshot); without, a link must
        stay inside its folder and is kept as a link.
        """
        from mvc.core import versions
        from mvc.core.metrics import check_key, checked_param, collect_metrics, collect_params, metric_value

        check_model_name(name)
        if version is not None and bump is not None:
            raise UsageError(f"{option('version')} and {option('bump')} cannot be used together; give one of them")
        wanted = str(parse_version(version)) if version is not None else None
        bump = bump or self.config.value("version.default_bump")
        if bump not in BUMPS:
            raise UserError(f"invalid bump {bump!r}; use one of: major, minor, patch")
        metric_args, metric_map = _strings(metrics)
        metric_values = collect_metrics(metric_args, [Path(f) for f in _items(metrics_files)])
        metric_values.update({check_key(k, "metric"): metric_value(k, v) for k, v in metric_map.items()})
        param_args, param_map = _strings(params)
        param_values = collect_params(param_args, [Path(f) for f in _items(params_files)])
        param_values.update({check_key(k, "parameter"): checked_param(k, v) for k, v in param_map.items()})
        source = Path(path)
        from mvc.core.inputs import must_exist

        must_exist(source, "model path")
        self._check_outside_mvc_dir(source, "model path")
        data_paths, code_paths = _once(_items(data)), _once(_items(code))
        for what, paths in (("--data path", data_paths), ("--code path", code_paths)):
            for p in paths:
                must_exist(p, what)
                self._check_outside_mvc_dir(p, what)
        parent_rows = tuple({row.id: row for row in map(self.session.resolve, _items(parents))}.values())
        labels = tuple(check_tag_label(t, self.channel_names()) for t in _items(tags))
        message = _utf8("" if message is None else message, "message")
        if git:  # refuse before storing anything
            from mvc.core import gittags

            gittags.work_tree(source.absolute().parent)
            gittags.check_gto_name("model", name)

        added = versions.add(self.session, versions.NewArtifact(
            name=name, source=source, version=wanted, bump=bump, metrics=metric_values,
            params=param_values, message=message, force=force, labels=labels, data=data_paths,
            code=code_paths, parents=parent_rows, store_data=store_data, git=git,
            follow_links=follow_links,
        ), progress)
        recorded = None
        if added.git is not None:
            from mvc.core import gitops

            recorded = gitops.record_add(self.session, source, added.row, added.git)
        return self._add_result(added.row, added.created, recorded)

    def _check_outside_mvc_dir(self, source: Path, what: str) -> None:
        # A path holding the repository's own store (mvc add .) would copy or hash the store
        # itself and snapshot a database that is being written.
        src, store = source.resolve(), self.layout.mvc_dir.resolve()
        if src == store or store in src.parents or src in store.parents:
            raise UserError(
                f"{what} {source} contains or lies in the mvc repository {store}; "
                "name the model's, data's or code's own file or folder"
            )

    def _add_result(self, row: VersionRow, created: bool, git: dict | None = None) -> AddResult:
        from mvc.core.serving import channels_serving, state_of
        from mvc.results.changes import AddResult

        state = state_of(row, channels_serving(self.registry, row.model, row.version))
        return AddResult(refs.format_ref(row.model, row.version), row.model, row.version,
                         row.digest, row.size, row.kind, state, created, git)

    # -- checkout -----------------------------------------------------------------------
    def checkout(self, ref: str, output: Path | str | None = None, *, link: str = "copy",
                 force: bool = False, progress: Progress = None) -> CheckoutResult:
        """Write the artifact ``ref`` names to ``output`` (default: its original name in the
        current directory), verified; never overwrites a different file without ``force``.
        Objects the local store lacks come from the default remote (a clone that shares the
        team's registry has the versions but not their bytes)."""
        from mvc.core import versions
        from mvc.core.integrity import Artifact, artifact_needs
        from mvc.results.changes import CheckoutResult

        row = self.session.resolve(ref)
        store = self.session.store
        needs = artifact_needs(store, [Artifact(row.digest, row.kind, ref)])
        lacking = needs.unreadable or not all(store.has(d) for d in needs.by_digest)
        if lacking and self.session.config.value("core.remote"):
            from mvc.core import sync

            sync.pull(self.session, [refs.format_ref(row.model, row.version)], progress=progress)
        done = versions.checkout(self.session, row, output, link=link, force=force, progress=progress)
        return CheckoutResult(refs.format_ref(row.model, row.version), row.digest, row.kind,
                              str(done.path), done.link, done.written, done.files, done.bytes)

    # -- tags ---------------------------------------------------------------------------
    def tag(self, ref: str, label: str, *, force: bool = False, message: str | None = None) -> TagResult:
        """Put ``label`` on the version ``ref`` names; moving an existing tag needs ``force``.
        ``message`` (why) is kept in the audit event."""
        from mvc.core import versions
        from mvc.results.labels import TagResult

        row = self.session.resolve(ref)
        check_tag_label(label, self.channel_names())
        with self.session.change("writer", "tag", row.model) as work:
            action = versions.set_tag(work, row, label, force=force, message=message)
        return TagResult(row.model, label, row.version, refs.format_ref(row.model, row.version), action)

    def untag(self, name: str, label: str, *, message: str | None = None) -> TagResult:
        """Remove tag ``label`` from model ``name``; ``message`` is kept in the audit event."""
        from mvc.core import versions
        from mvc.results.labels import TagResult

        check_model_name(name)
        with self.session.change("writer", "untag", name) as work:
            current = versions.remove_tag(work, name, label, message)
        return TagResult(name, label, current, refs.format_ref(name, current), "deleted")

    def tags(self, name: str) -> list[TagInfo]:
        """The tags of model ``name``."""
        from mvc.core import versions
        from mvc.results.labels import TagInfo

        check_model_name(name)
        return [TagInfo(m, label, v, refs.format_ref(m, v), ts) for m, label, v, ts in versions.tags(self.session, name)]

    # -- config -------------------------------------------------------------------------
    def config_get(self, key: str) -> ConfigEntry:
        """The value in effect for ``key``: set in config.toml (``origin`` "config") or the
        schema's default ("default"). An unknown key that is not set is a UserError."""
        from mvc.results.labels import ConfigEntry

        value, origin = self.config.effective(key)
        return ConfigEntry(key, value, "get", origin)

    def config_list(self) -> dict[str, Any]:
        """Every key set in config.toml, flattened to dotted names."""
        return self.config.items()

    def config_all(self) -> list[ConfigValue]:
        """Every known key with the value in effect and its origin (``default`` or
        ``config``), and every other key set in config.toml; sorted by key. A key with no
        default that is not set has the value None."""
        from mvc.results.labels import ConfigValue

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
        from mvc.core import channel_config, config, registry_identity
        from mvc.results.labels import ConfigEntry

        if isinstance(value, str):
            value = config.value_from_text(key, value)
        config.check(key, value)
        if key == "registry.url":  # an existing registry, set even when the one in use does not open
            if registry_identity.fix_setting(self.session, lambda: self.config.set(key, value), value):
                return ConfigEntry(key, value, "set")
        with self.session.change(_config_role(key), "config", key) as work:
            if self.config.is_set_to(key, value):  # nothing changes: no event (as tag and grant)
                return ConfigEntry(key, value, "unchanged")
            channel_config.check_set(self.session, key, value)  # e.g. deploy folders apart
            moved = channel_config.folders_before(self.session, key)
            self.config.set(key, value)
            work.event("config", key, {"value": value})
        if key == "registry.url":
            registry_identity.switched(self.session)
        channel_config.follow_moves(self.session, moved)
        return ConfigEntry(key, value, "set")

    def config_unset(self, key: str) -> ConfigEntry:
        """Remove ``key`` (a value, or a whole table) from config.toml."""
        from mvc.core import channel_config, registry_identity
        from mvc.results.labels import ConfigEntry

        if key == "registry.url":
            old = self.config.get_set(key)
            registry_identity.check_local_one(self.session)
            if registry_identity.fix_setting(self.session, lambda: self.config.unset(key)):
                return ConfigEntry(key, old, "unset")
        with self.session.change(_config_role(key, self.config.get_set(key)), "config", key) as work:
            retired = channel_config.retiring(self.session, key)
            moved = channel_config.folders_before(self.session, key)
            old = self.config.unset(key)
            work.event("config", key, {"unset": True})
        if key == "registry.url":
            registry_identity.switched(self.session)
        channel_config.follow_moves(self.session, moved)
        for line in retired:
            self.session.warn(line)
        return ConfigEntry(key, old, "unset")


def _config_role(key: str, value: Any = None) -> str:
    from mvc.core.config import needs_admin

    return "admin" if needs_admin(key, value) else "maintainer"
