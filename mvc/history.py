"""The part of the Repo API that reads the registry's history: show, ls and log, and
compares and traces versions: diff and lineage (SPEC §3 "Versions", "Comparison",
"Lineage"). ``Repo`` inherits it (see api.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mvc.core import refs
from mvc.core.errors import UsageError, UserError, option
from mvc.core.names import check_model_name
from mvc.core.registry.base import VersionRow
from mvc.core.serving import STATES, serving_map, state_from, state_of, tags_by_version

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from mvc.core.session import Session
    from mvc.results.listing import VersionSummary
    from mvc.results.version import VersionInfo
    from mvc.results.compare import DiffManyResult, DiffResult, LineageResult, SeriesResult


class HistoryOps:
    """show, ls, log, diff and lineage (mixed into ``Repo``)."""

    # -- reading ------------------------------------------------------------------------
    def show(self, ref: str) -> VersionInfo:
        """Everything about the version ``ref`` names."""
        session = self.session
        row = session.resolve(ref)
        serving = serving_map(session.registry, row.model).get((row.model, row.version), [])
        tags = tags_by_version(session.registry, row.model).get((row.model, row.version), [])
        lineage: dict[str, list] = {"data": [], "code": [], "parents": []}
        for item in session.registry.lineage_inputs(row.id):
            if item.kind == "model":
                lineage["parents"].append(refs.format_ref(*item.parent) if item.parent else item.digest)
            else:
                lineage[item.kind].append({"digest": item.digest, "path": item.path, **item.detail})
        from mvc.results.version import VersionInfo

        if row.kind == "directory":
            from mvc.core import artifacts

            files = tuple(e.to_dict() for e in artifacts.load_entries(session.store, row.digest))
        else:
            files = ({"path": row.path_name, "size": row.size, "digest": row.digest},)
        return VersionInfo(
            ref=refs.format_ref(row.model, row.version), model=row.model, version=row.version,
            digest=row.digest, size=row.size, kind=row.kind, state=state_of(row, serving),
            tags=tuple(sorted(tags)), channels=tuple(serving), metrics=row.metrics,
            params=row.params, env=row.env, git=row.git, lineage=lineage, message=row.message,
            created_at=row.created_at, created_by=row.created_by, archived=row.archived, files=files,
        )

    def ls(self, name: str | None = None, state: str | None = None) -> list:
        """Models (``ModelSummary``), or one model's versions (``VersionSummary``), newest first."""
        from mvc.results.listing import ModelSummary

        if state is not None and state not in STATES:
            raise UserError(f"unknown state {state!r}; use one of: {', '.join(STATES)}")
        registry = self.session.registry
        if name is None:
            rows = registry.versions()
            by_model: dict[str, list[VersionRow]] = {}
            for r in rows:
                by_model.setdefault(r.model, []).append(r)
            serving = serving_map(registry)
            channels = {(c.model, c.channel): c.version for c in registry.channels()}
            out = []
            for model in sorted(by_model):
                versions = by_model[model]
                if state is not None and not any(
                        state_of(r, serving.get((model, r.version), [])) == state for r in versions):
                    continue
                out.append(ModelSummary(
                    model, len(versions), refs.latest_of(versions).version,
                    {ch: channels.get((model, ch)) for ch in self.session.channel_names()},
                ))
            return out
        return self.find(name, where=[f"state = {state}"] if state is not None else [])

    def find(self, name: str, where: "list[str] | str" = (), sort: str | None = None,
             reverse: bool = False, limit: int | None = None) -> list[VersionSummary]:
        """The versions of model ``name`` that meet every ``where`` expression (``KEY OP
        VALUE``: a metric, ``param.NAME``, ``tag``, ``state``, ``version`` or ``created``;
        OP one of ``= != < <= > >=``), sorted by ``sort`` (``version``, the default, and
        ``created`` newest first; a metric best first by its direction, versions lacking it
        last), turned round by ``reverse``, at most ``limit`` of them: what ``mvc ls NAME
        --where ... --sort ... --json`` prints. The registry filters and sorts (SQL)."""
        from mvc.core import query

        check_model_name(name)
        filters = query.parse_filters([where] if isinstance(where, str) else list(where))

        def lower_better(metric: str) -> bool:
            from mvc.core.compare import settings_from

            return settings_from(self.session.config.value).lower_better(metric)

        order = query.parse_sort(sort, reverse, lower_better)
        with query.collector_paused():
            return self._summaries(name, filters, order, query.check_limit(limit))

    def _summaries(self, name: str, filters: list, order, limit: int | None) -> list[VersionSummary]:
        from mvc.core import query
        from mvc.results.listing import VersionSummary

        registry = self.session.registry
        listed = registry.list_versions(name, filters, order, limit)
        versions, count = listed.versions, len(listed.versions)
        if not count and registry.latest_version(name) is None:
            self.session.resolve(name)  # raises "unknown model" with a suggestion
        if not count and filters:
            query.check_filter_names(registry, name, filters)  # a misspelt metric, not "nothing matched"
        if order.key == "metric" and (not count or order.name not in listed.metrics[0]):
            query.check_sort_metric(registry, name, order.name)  # none of the rows has it: does any version?
        # column by column, looked up by version alone: 100,000 versions pay per row only this
        serving = {v: state_from(False, chs) for (_, v), chs in serving_map(registry, name).items()}
        tags = {v: tuple(sorted(labels)) for (_, v), labels in tags_by_version(registry, name).items()}
        states = ["archived" if archived else serving.get(v, "development")
                  for v, archived in zip(versions, listed.archived)] if serving or any(listed.archived) \
            else ["development"] * count
        labels = [tags.get(v, ()) for v in versions] if tags else [()] * count
        return list(map(VersionSummary, map(f"{name}@".__add__, versions), versions, listed.digests, states,
                        labels, listed.created_at, listed.metrics))

    def log(self, name: str | None = None, limit: int | None = None,
            channel: str | None = None) -> list:
        """Versions newest first (by when they were added), of one model or all; with
        ``channel``, that channel's moves (``ChannelLogEntry``), newest first."""
        if channel is not None:
            if name is None:
                how = ": mvc log NAME --channel C" if option("channel").startswith("-") else " (name)"
                raise UsageError(f"{option('channel')} needs a model name{how}")
            return self.channel_log(name, channel, limit)
        if limit is not None and limit < 1:
            raise UserError(f"{option('limit')} must be at least 1")
        from mvc.results.listing import LogEntry

        registry = self.session.registry
        if name is not None:
            check_model_name(name)
        rows = sorted(registry.versions(name), key=lambda r: (r.created_at, r.id), reverse=True)
        if name is not None and not rows:
            self.session.resolve(name)  # raises "unknown model" with a suggestion
        serving = serving_map(registry, name)
        tags = tags_by_version(registry, name)
        return [
            LogEntry(refs.format_ref(r.model, r.version), r.model, r.version, r.digest, r.size,
                     state_of(r, serving.get((r.model, r.version), [])),
                     tuple(sorted(tags.get((r.model, r.version), []))), r.message, r.created_at,
                     r.created_by, r.metrics)
            for r in rows[:limit]
        ]

    # -- comparison and lineage ---------------------------------------------------------
    def diff(self, *versions: str) -> "DiffResult | DiffManyResult":
        """With two refs A and B: how version B differs from version A: metrics (with
        direction), params, files, tensors, similarity, performance delta, importance and a
        recommendation (``DiffResult``). With three or more: their metrics and the params that
        differ side by side, each metric's best version and a recommendation against the
        first, the baseline (``DiffManyResult``)."""
        from mvc.core import compare
        from mvc.results import DiffResult

        if len(versions) < 2:
            raise UsageError("diff needs at least two refs: mvc diff REF_A REF_B [REF]...")
        session = self.session
        if len(versions) > 2:
            return self._diff_many(versions)
        a, b = versions
        sides = [compare.side_of(refs.format_ref(r.model, r.version), r, session.registry, session.store)
                 for r in (session.resolve(a), session.resolve(b))]
        settings = compare.settings_from(session.config.value)
        return DiffResult(**compare.compare(*sides, settings, compare.store_reader(session.store),
                                            compare.store_chunks(session.store)))

    def _diff_many(self, given: tuple[str, ...]) -> "DiffManyResult":
        from mvc.core import ranking, registry_values
        from mvc.core.compare import settings_from
        from mvc.results import DiffManyResult

        session = self.session
        sides, first = [], {}
        for ref in given:
            row = session.resolve(ref)
            name = refs.format_ref(row.model, row.version)
            if name in first:
                raise UserError(f"{first[name]} and {ref} are both {name}; give each version once")
            first[name] = ref
            sides.append((name, registry_values.metrics(row), row.params))
        return DiffManyResult(**ranking.compare_many(sides, settings_from(session.config.value)))

    def series(self, name: str, metrics: "list[str] | None" = None) -> "SeriesResult":
        """Each metric of model ``name`` (``metrics``, default all) across its versions,
        lowest version first, and the version each channel serves: what ``mvc plot`` draws
        and ``mvc plot --json`` prints."""
        from mvc.core import series
        from mvc.results import SeriesResult

        check_model_name(name)
        registry = self.session.registry
        if registry.latest_version(name) is None:
            self.session.resolve(name)  # raises "unknown model" with a suggestion
        data = series.series(registry, name, list(metrics or []), list(self.session.channel_names()))
        return SeriesResult(data["model"], tuple(data["versions"]),
                            {k: tuple(v) for k, v in data["metrics"].items()}, data["channels"],
                            data["canaries"])

    def lineage(self, target: str, *, upstream: bool = True, downstream: bool = True,
                depth: int | None = None) -> "LineageResult":
        """The lineage graph around a version (a ref), or around a data or code file (a
        path, by its content digest, or a ``data:``/``code:`` node id): what it came from
        (``upstream``), what was built on it (``downstream``), at most ``depth`` steps away."""
        from mvc.core import lineage, lineage_file
        from mvc.results import LineageResult

        session = self.session
        # reading the lineage is when the derived file catches up (SPEC §6); when it cannot (a
        # read-only .mvc), the answer comes from the registry all the same
        session.derive(f"the lineage file {session.layout.lineage_file}", lambda: lineage_file.bring_up_to_date(
            session.registry, session.layout.lineage_file, session.layout.tmp), after_change=False)

        def resolve(ref: str) -> tuple[str, str, int]:
            row = session.resolve(ref)
            return row.model, row.version, row.id

        node, vid = lineage.locate(session.registry, target, resolve=resolve,
                                   hash_path=lambda p: _input_digests(session, p),
                                   warn=session.warn)
        from mvc.core.query import collector_paused

        with collector_paused():  # the graph of tens of thousands of nodes, without the collector's walks
            graph = lineage.walk(session.registry, node, vid, upstream=upstream, downstream=downstream, depth=depth)
            return LineageResult(**lineage.neighbourhood(graph, node, upstream=upstream,
                                                         downstream=downstream, depth=depth))


def _input_digests(session: "Session", path: "Path") -> "Iterator[str]":
    """The digests a --data or --code PATH may have been recorded by, each computed only when
    asked for: walked as add walks it, then, for a folder holding links, as add --follow-links
    walks it (a folder with links out of it is refused unless they are followed)."""
    from mvc.core import artifacts, walk

    if not path.is_dir():
        yield artifacts.hash_path(path, session.cache, how=walk.INPUT)[0]
        return
    try:
        found = walk.folder(path, walk.INPUT)
    except UserError as exc:
        refused: UserError | None = exc
    else:
        refused = None
        yield artifacts.hash_path(path, session.cache, how=walk.INPUT, found=found)[0]
        if not any(f.target is not None for f in found):
            return
    how = walk.following(session.layout.mvc_dir, session.store.root, model=False)
    try:
        yield artifacts.hash_path(path, session.cache, how=how)[0]
    except UserError as exc:
        if refused is not None:
            raise UserError(f"mvc reads {path} neither as add reads it ({refused.message}) nor as "
                            f"add --follow-links does ({exc.message}), so it cannot be looked up by its content") from None

