"""The PostgreSQL registry's schema: forward migrations in the schema ``mvc`` of one database,
the mvc roles, and what each role may do, enforced by the server (SPEC §6, §7).

Roles are PostgreSQL roles, and so cluster-wide: ``mvc_reader`` < ``mvc_writer`` <
``mvc_maintainer`` < ``mvc_admin``, each a member of the one below it. A login without one
cannot read the registry (nothing is granted to PUBLIC). Privileges let a reader only read;
a writer add versions, lineage and tags; a maintainer also move channels and archive; row-level
security keeps production's channel for admins. Audit events go in only through
``mvc.append_event``, a SECURITY DEFINER function that writes ``session_user`` as the user and
checks the chain link and the hash; no mvc role may update or delete an event.
"""

from __future__ import annotations

SCHEMA = "mvc"
ROLES = {"reader": "mvc_reader", "writer": "mvc_writer", "maintainer": "mvc_maintainer", "admin": "mvc_admin"}
LOCK_KEY = 0x6D7663  # "mvc": the advisory lock every write transaction takes (per database)

# Run once, by the login that creates the roles (CREATEROLE), when they are missing.
ROLE_SETUP = [
    "GRANT mvc_reader TO mvc_writer",
    "GRANT mvc_writer TO mvc_maintainer",
    "GRANT mvc_maintainer TO mvc_admin",
    # admins grant and revoke every mvc role (``mvc access grant``)
    "GRANT mvc_reader, mvc_writer, mvc_maintainer TO mvc_admin WITH ADMIN OPTION",
]

_PRODUCTION_RULE = "(channel <> 'production' OR pg_has_role(session_user, 'mvc_admin', 'MEMBER'))"

# Each entry moves the schema one version forward; never edit one that has shipped.
MIGRATIONS: list[str] = [
    # 1: the tables (JSON fields as text, read back exactly as written; sort_key as in SQLite's
    # migration 4: each version's semver order as bytes, collation "C")
    """
    CREATE TABLE mvc.models (
        id bigserial PRIMARY KEY,
        name text NOT NULL UNIQUE,
        created_at text NOT NULL
    );
    CREATE TABLE mvc.versions (
        id bigserial PRIMARY KEY,
        model_id bigint NOT NULL REFERENCES mvc.models(id),
        version text NOT NULL,
        digest text COLLATE "C" NOT NULL,
        size bigint NOT NULL,
        kind text NOT NULL,
        path_name text NOT NULL,
        message text NOT NULL DEFAULT '',
        metrics text NOT NULL,
        params text NOT NULL,
        env text NOT NULL,
        git text NOT NULL,
        created_at text NOT NULL,
        created_by text NOT NULL,
        archived boolean NOT NULL DEFAULT false,
        sort_key text COLLATE "C" NOT NULL,
        UNIQUE (model_id, version)
    );
    CREATE INDEX versions_digest ON mvc.versions (digest);
    CREATE INDEX versions_sort ON mvc.versions (model_id, sort_key);
    CREATE TABLE mvc.tags (
        model_id bigint NOT NULL REFERENCES mvc.models(id),
        label text NOT NULL,
        version_id bigint NOT NULL REFERENCES mvc.versions(id),
        created_at text NOT NULL,
        created_by text NOT NULL,
        PRIMARY KEY (model_id, label)
    );
    CREATE TABLE mvc.lineage (
        id bigserial PRIMARY KEY,
        version_id bigint NOT NULL REFERENCES mvc.versions(id),
        kind text NOT NULL,
        digest text,
        path text,
        detail text NOT NULL,
        parent_version_id bigint REFERENCES mvc.versions(id)
    );
    CREATE INDEX lineage_version ON mvc.lineage (version_id);
    CREATE INDEX lineage_digest ON mvc.lineage (digest);
    CREATE INDEX lineage_parent ON mvc.lineage (parent_version_id);
    CREATE TABLE mvc.channels (
        model_id bigint NOT NULL REFERENCES mvc.models(id),
        channel text NOT NULL,
        version_id bigint REFERENCES mvc.versions(id),
        canary_version_id bigint REFERENCES mvc.versions(id),
        canary_percent integer NOT NULL DEFAULT 0,
        slot text,
        updated_at text,
        PRIMARY KEY (model_id, channel)
    );
    CREATE TABLE mvc.channel_history (
        id bigserial PRIMARY KEY,
        model_id bigint NOT NULL REFERENCES mvc.models(id),
        channel text NOT NULL,
        action text NOT NULL,
        version_id bigint REFERENCES mvc.versions(id),
        previous_version_id bigint REFERENCES mvc.versions(id),
        canary_version_id bigint REFERENCES mvc.versions(id),
        canary_percent integer NOT NULL DEFAULT 0,
        slot text,
        message text NOT NULL DEFAULT '',
        "user" text NOT NULL,
        ts text NOT NULL
    );
    CREATE INDEX channel_history_model ON mvc.channel_history (model_id, channel);
    CREATE TABLE mvc.events (
        seq bigint PRIMARY KEY,
        ts text NOT NULL,
        "user" text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        details text NOT NULL,
        prev text NOT NULL,
        hash text NOT NULL
    );
    CREATE TABLE mvc.grant_notes (
        login text PRIMARY KEY,
        granted_by text NOT NULL,
        granted_at text NOT NULL
    );
    """,
    # 2: what each role may do, enforced by the server
    f"""
    REVOKE ALL ON SCHEMA mvc FROM PUBLIC;
    GRANT USAGE ON SCHEMA mvc TO mvc_reader;
    GRANT SELECT ON ALL TABLES IN SCHEMA mvc TO mvc_reader;
    GRANT INSERT ON mvc.models, mvc.versions, mvc.lineage, mvc.tags TO mvc_writer;
    GRANT UPDATE, DELETE ON mvc.tags TO mvc_writer;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA mvc TO mvc_writer;
    GRANT UPDATE (archived) ON mvc.versions TO mvc_maintainer;
    GRANT INSERT, UPDATE ON mvc.channels TO mvc_maintainer;
    GRANT INSERT ON mvc.channel_history TO mvc_maintainer;
    GRANT INSERT, UPDATE, DELETE ON mvc.grant_notes TO mvc_admin;
    ALTER TABLE mvc.channels ENABLE ROW LEVEL SECURITY;
    ALTER TABLE mvc.channel_history ENABLE ROW LEVEL SECURITY;
    CREATE POLICY read_all ON mvc.channels FOR SELECT USING (true);
    CREATE POLICY read_all ON mvc.channel_history FOR SELECT USING (true);
    CREATE POLICY move ON mvc.channels FOR ALL TO mvc_maintainer
        USING {_PRODUCTION_RULE} WITH CHECK {_PRODUCTION_RULE};
    CREATE POLICY move ON mvc.channel_history FOR INSERT TO mvc_maintainer WITH CHECK {_PRODUCTION_RULE};
    CREATE FUNCTION mvc.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = '42501';
    END $$;
    CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON mvc.events
        FOR EACH ROW EXECUTE FUNCTION mvc.append_only();
    CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON mvc.events
        FOR EACH STATEMENT EXECUTE FUNCTION mvc.append_only();
    CREATE FUNCTION mvc.append_event(p_seq bigint, p_ts text, p_action text, p_target text,
                                     p_details text, p_prev text, p_body text, p_hash text)
    RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = mvc, pg_temp AS $$
    DECLARE
        last_seq bigint;
        last_hash text;
        body jsonb := p_body::jsonb;
    BEGIN
        IF NOT pg_has_role(session_user, 'mvc_writer', 'MEMBER')
           AND NOT (p_action = 'denied' AND pg_has_role(session_user, 'mvc_reader', 'MEMBER')) THEN
            RAISE EXCEPTION '% may not append a % event', session_user, p_action USING ERRCODE = '42501';
        END IF;
        PERFORM pg_advisory_xact_lock({LOCK_KEY});
        SELECT seq, hash INTO last_seq, last_hash FROM mvc.events ORDER BY seq DESC LIMIT 1;
        IF p_seq <> coalesce(last_seq, 0) + 1 OR p_prev <> coalesce(last_hash, repeat('0', 64)) THEN
            RAISE EXCEPTION 'event % does not follow the chain''s head (event %)', p_seq, coalesce(last_seq, 0)
                USING ERRCODE = '40001';
        END IF;
        IF body <> jsonb_build_object('seq', p_seq, 'ts', p_ts, 'user', session_user::text, 'action', p_action,
                                      'target', p_target, 'details', p_details::jsonb)
           OR p_hash <> encode(sha256(convert_to(p_prev || p_body, 'UTF8')), 'hex') THEN
            RAISE EXCEPTION 'event % is not hashed as the session user % acting', p_seq, session_user
                USING ERRCODE = '42501';
        END IF;
        INSERT INTO mvc.events (seq, ts, "user", action, target, details, prev, hash)
            VALUES (p_seq, p_ts, session_user, p_action, p_target, p_details, p_prev, p_hash);
    END $$;
    REVOKE ALL ON FUNCTION mvc.append_event(bigint, text, text, text, text, text, text, text) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION mvc.append_event(bigint, text, text, text, text, text, text, text) TO mvc_reader;
    """,
    # 3: who added a version, set a tag or moved a channel is the server's login too, whatever
    # a client writes (the schema's owner, who copies a registry in, keeps the names it copies)
    """
    CREATE FUNCTION mvc.stamp_login() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT pg_has_role(session_user, (SELECT nspowner FROM pg_namespace WHERE nspname = 'mvc'), 'USAGE') THEN
            IF TG_TABLE_NAME = 'channel_history' THEN
                NEW."user" := session_user;
            ELSE
                NEW.created_by := session_user;
            END IF;
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER stamp_login BEFORE INSERT ON mvc.versions
        FOR EACH ROW EXECUTE FUNCTION mvc.stamp_login();
    CREATE TRIGGER stamp_login BEFORE INSERT OR UPDATE ON mvc.tags
        FOR EACH ROW EXECUTE FUNCTION mvc.stamp_login();
    CREATE TRIGGER stamp_login BEFORE INSERT ON mvc.channel_history
        FOR EACH ROW EXECUTE FUNCTION mvc.stamp_login();
    """,
    # 4: the hashed body is the one text the event's fields make, its details as stored. Schema 2
    # compared the body as jsonb and hashed it as sent: a body with other spacing or key order
    # (any reader may append its own 'denied' event) passed, and 'mvc audit --verify', which
    # hashes the fields as mvc writes them, called the chain broken for good (probe P)
    f"""
    CREATE OR REPLACE FUNCTION mvc.append_event(p_seq bigint, p_ts text, p_action text, p_target text,
                                                p_details text, p_prev text, p_body text, p_hash text)
    RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = mvc, pg_temp AS $$
    DECLARE
        last_seq bigint;
        last_hash text;
    BEGIN
        IF NOT pg_has_role(session_user, 'mvc_writer', 'MEMBER')
           AND NOT (p_action = 'denied' AND pg_has_role(session_user, 'mvc_reader', 'MEMBER')) THEN
            RAISE EXCEPTION '% may not append a % event', session_user, p_action USING ERRCODE = '42501';
        END IF;
        PERFORM pg_advisory_xact_lock({LOCK_KEY});
        SELECT seq, hash INTO last_seq, last_hash FROM mvc.events ORDER BY seq DESC LIMIT 1;
        IF p_seq <> coalesce(last_seq, 0) + 1 OR p_prev <> coalesce(last_hash, repeat('0', 64)) THEN
            RAISE EXCEPTION 'event % does not follow the chain''s head (event %)', p_seq, coalesce(last_seq, 0)
                USING ERRCODE = '40001';
        END IF;
        -- details Python's json cannot read back (deeper than its recursion, or an integer of more
        -- than its 4,300 digits) would make every later 'mvc audit' say the registry is damaged
        IF jsonb_typeof(p_details::jsonb) <> 'object'
           OR jsonb_path_exists(p_details::jsonb, 'strict $.**{{100 to last}}')
           OR EXISTS (SELECT 1 FROM jsonb_path_query(p_details::jsonb, 'strict $.** ? (@.type() == "number")') n
                      WHERE length(n::text) > 4000)
           OR p_body <> '{{"action":' || to_json(p_action)::text || ',"details":' || p_details
                        || ',"seq":' || p_seq::text || ',"target":' || to_json(p_target)::text
                        || ',"ts":' || to_json(p_ts)::text || ',"user":' || to_json(session_user::text)::text || '}}'
           OR p_hash <> encode(sha256(convert_to(p_prev || p_body, 'UTF8')), 'hex') THEN
            RAISE EXCEPTION 'event % is not hashed as the session user % acting', p_seq, session_user
                USING ERRCODE = '42501';
        END IF;
        INSERT INTO mvc.events (seq, ts, "user", action, target, details, prev, hash)
            VALUES (p_seq, p_ts, session_user, p_action, p_target, p_details, p_prev, p_hash);
    END $$;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
