"""``Registry.lineage_reach`` in SQL, for SQLite and PostgreSQL alike: every lineage row a walk
from one node reads, upstream or downstream, in one recursive query (``WITH RECURSIVE``)
instead of one round trip per level of the graph. Only fixed SQL text; the node goes in as
bound parameters."""

from __future__ import annotations

from typing import Callable


def reach_sql(columns: str, schema: str, mark: str, upstream: bool) -> str:
    """The statement over ``columns`` (the lineage rows' select list and joins, with ``l`` the
    lineage table) in ``schema`` (``""`` or ``"mvc."``) with ``mark`` as the placeholder.

    Upstream, one parameter (the version id): the inputs of the version and of every version
    it descends from through its parents. Downstream, three (the version id or NULL, then
    kind and digest of a data or code node or NULLs): the rows that take the node as
    input, and those whose parent is a version built on it, however far down. Ordered by
    the lineage row's id, as the walk's one-level reads are."""
    node = f"CAST({mark} AS BIGINT)"
    if upstream:
        return (f"WITH RECURSIVE up(id) AS (SELECT {node} UNION SELECT l.parent_version_id"
                f" FROM {schema}lineage l JOIN up ON l.version_id = up.id WHERE l.parent_version_id IS NOT NULL)"
                f" {columns} WHERE l.version_id IN (SELECT id FROM up) ORDER BY l.id")
    keyed = f"l.kind IN ('data', 'code') AND l.kind = {mark} AND l.digest = {mark}"
    # (a version reached, the lineage row that reaches it): the rows themselves, not their
    # versions, so that the rows are read back by their primary key
    return (f"WITH RECURSIVE down(id, row) AS (SELECT {node}, CAST(NULL AS BIGINT)"
            f" UNION SELECT l.version_id, l.id FROM {schema}lineage l WHERE {keyed}"
            f" UNION SELECT l.version_id, l.id FROM {schema}lineage l JOIN down ON l.parent_version_id = down.id)"
            f" {columns} WHERE l.id IN (SELECT row FROM down) ORDER BY l.id")


def reach(execute: Callable, columns: str, schema: str, mark: str, version_id: int | None,
          key: tuple[str, str] | None, upstream: bool) -> list[tuple]:
    """Registry.lineage_reach through a backend's ``execute(sql, args)`` (see reach_sql)."""
    if upstream:
        return [] if version_id is None else list(execute(reach_sql(columns, schema, mark, True), (version_id,)))
    kind, digest = key if key is not None else (None, None)
    return list(execute(reach_sql(columns, schema, mark, False), (version_id, kind, digest)))
