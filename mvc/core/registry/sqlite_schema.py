"""The SQLite registry's schema, as the list of forward migrations that build it: the
database records how many it has run (``PRAGMA user_version``) and runs the rest on open."""

from __future__ import annotations

# Each entry moves the schema one version forward; never edit one that has shipped.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE models (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        model_id INTEGER NOT NULL REFERENCES models(id),
        version TEXT NOT NULL,
        digest TEXT NOT NULL,
        size INTEGER NOT NULL,
        kind TEXT NOT NULL,
        path_name TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        metrics TEXT NOT NULL,
        params TEXT NOT NULL,
        env TEXT NOT NULL,
        git TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        archived INTEGER NOT NULL DEFAULT 0,
        UNIQUE (model_id, version)
    );
    CREATE INDEX versions_digest ON versions(digest);
    CREATE TABLE tags (
        model_id INTEGER NOT NULL REFERENCES models(id),
        label TEXT NOT NULL,
        version_id INTEGER NOT NULL REFERENCES versions(id),
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        PRIMARY KEY (model_id, label)
    );
    CREATE TABLE lineage (
        id INTEGER PRIMARY KEY,
        version_id INTEGER NOT NULL REFERENCES versions(id),
        kind TEXT NOT NULL,
        digest TEXT,
        path TEXT,
        detail TEXT NOT NULL,
        parent_version_id INTEGER REFERENCES versions(id)
    );
    CREATE INDEX lineage_version ON lineage(version_id);
    CREATE INDEX lineage_digest ON lineage(digest);
    CREATE INDEX lineage_parent ON lineage(parent_version_id);
    CREATE TABLE channels (
        model_id INTEGER NOT NULL REFERENCES models(id),
        channel TEXT NOT NULL,
        version_id INTEGER REFERENCES versions(id),
        canary_version_id INTEGER REFERENCES versions(id),
        canary_percent INTEGER NOT NULL DEFAULT 0,
        slot TEXT,
        updated_at TEXT,
        PRIMARY KEY (model_id, channel)
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT NOT NULL,
        prev TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    """,
    # 2: every move of a channel (promote, rollback, canary start/step/promote/abort), like git's reflog
    """
    CREATE TABLE channel_history (
        id INTEGER PRIMARY KEY,
        model_id INTEGER NOT NULL REFERENCES models(id),
        channel TEXT NOT NULL,
        action TEXT NOT NULL,
        version_id INTEGER REFERENCES versions(id),
        previous_version_id INTEGER REFERENCES versions(id),
        canary_version_id INTEGER REFERENCES versions(id),
        canary_percent INTEGER NOT NULL DEFAULT 0,
        slot TEXT,
        message TEXT NOT NULL DEFAULT '',
        user TEXT NOT NULL,
        ts TEXT NOT NULL
    );
    CREATE INDEX channel_history_model ON channel_history(model_id, channel);
    """,
    # access policy (SPEC §7): one role per user; no rows means the repository is open
    """
    CREATE TABLE grants (
        user TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        granted_by TEXT NOT NULL,
        granted_at TEXT NOT NULL
    );
    """,
    # 4: each version's semver order as text (semver.Version.text_key), so that the latest
    # version of a model is one indexed read however many versions it has; rows written
    # before are filled in by SqliteRegistry after this runs
    """
    ALTER TABLE versions ADD COLUMN sort_key TEXT;
    CREATE INDEX versions_sort ON versions(model_id, sort_key);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
