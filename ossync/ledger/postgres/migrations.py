"""The PostgreSQL schema, as named, append-only migrations (never edit one that shipped).

The same tables and columns as the SQLite ledger (docs/ledger.md), so the shared
statements and `ossync ledger copy` work on both; plus what many hosts need:
`files` is unique per (host, path), claims carry a lease, and `content_claims`
gives one sender per content fleet-wide.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("0001_initial", """
CREATE TABLE uploads (
    id BIGSERIAL PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    url TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    crc64 TEXT,
    etag TEXT,
    content_type TEXT,
    path TEXT NOT NULL,
    folder TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    request_id TEXT,
    host TEXT NOT NULL DEFAULT '',
    UNIQUE (bucket, key)
);
CREATE INDEX uploads_by_sha256 ON uploads (sha256, bucket);
CREATE INDEX uploads_by_time ON uploads (uploaded_at);
CREATE INDEX uploads_by_folder_time ON uploads (folder, uploaded_at);
CREATE INDEX uploads_by_path ON uploads (path);
CREATE INDEX uploads_by_key ON uploads (key);

CREATE TABLE files (
    id BIGSERIAL PRIMARY KEY,
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    folder TEXT NOT NULL,
    grp TEXT,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('pending', 'uploading', 'uploaded', 'failed', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error TEXT,
    sha256 TEXT,
    pending_key TEXT,
    upload_id BIGINT REFERENCES uploads (id),
    claimed_by TEXT,
    lease_until DOUBLE PRECISION,
    seen_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (host, path)
);
CREATE INDEX files_due ON files (host, state, next_attempt);
CREATE INDEX files_group_due ON files (grp, state, next_attempt) WHERE grp IS NOT NULL;
CREATE INDEX files_leases ON files (grp, state, lease_until) WHERE grp IS NOT NULL;
CREATE INDEX files_claimed ON files (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX files_by_upload ON files (upload_id);
CREATE INDEX files_by_sha256 ON files (sha256);
CREATE INDEX files_by_time ON files (updated_at);
CREATE INDEX files_by_state_time ON files (state, updated_at);
CREATE INDEX files_by_folder_time ON files (folder, updated_at);

CREATE TABLE content_claims (
    bucket TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    host TEXT NOT NULL,
    lease_until DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (bucket, sha256)
);

CREATE TABLE ledger_changes (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL);
INSERT INTO ledger_changes VALUES (1, 0);
"""),
    ("0002_sent_bytes_and_stripping", """
ALTER TABLE uploads ADD COLUMN sent_sha256 TEXT;
ALTER TABLE uploads ADD COLUMN sent_size BIGINT;
ALTER TABLE uploads ADD COLUMN sent_crc64 TEXT;
ALTER TABLE uploads ADD COLUMN strip_level TEXT NOT NULL DEFAULT 'none';
ALTER TABLE uploads ADD COLUMN stripped TEXT;
UPDATE uploads SET sent_sha256 = sha256, sent_size = size, sent_crc64 = crc64;
"""),
    ("0003_multipart_checkpoints", """
CREATE TABLE multipart_uploads (
    id BIGSERIAL PRIMARY KEY,
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    upload_id TEXT,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    part_size BIGINT NOT NULL,
    started_at TEXT NOT NULL,
    UNIQUE (host, path)
);
CREATE TABLE multipart_parts (
    upload BIGINT NOT NULL REFERENCES multipart_uploads (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    crc64 TEXT,
    PRIMARY KEY (upload, number)
);
"""),
    # Paths are stored in the ledger form of ossync.core.textforms: a name holding a
    # backslash has it doubled (so that `\xff` can stand for a byte that is not UTF-8).
    # Rows written before are rewritten; the chr(1) step keeps every row unique meanwhile.
    ("0004_path_text_form", """
UPDATE files SET path = chr(1) || replace(path, '\\', '\\\\') WHERE strpos(path, '\\') > 0;
UPDATE files SET path = substr(path, 2) WHERE left(path, 1) = chr(1);
UPDATE uploads SET path = replace(path, '\\', '\\\\') WHERE strpos(path, '\\') > 0;
UPDATE multipart_uploads SET path = chr(1) || replace(path, '\\', '\\\\')
    WHERE strpos(path, '\\') > 0;
UPDATE multipart_uploads SET path = substr(path, 2) WHERE left(path, 1) = chr(1);
"""),
    # Object options: tags owed after an OSS PostObject (see the SQLite migration).
    ("0005_files_tagging_owed", """
ALTER TABLE files ADD COLUMN tagging_owed TEXT;
"""),
    # Events apps hear about and one cursor per delivery endpoint (see SQLite's 0008).
    ("0006_events_and_deliveries", """
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    host TEXT NOT NULL,
    folder TEXT,
    data TEXT NOT NULL
);
CREATE TABLE deliveries (
    endpoint TEXT PRIMARY KEY,
    delivered BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error TEXT,
    sent BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0,
    given_up BIGINT NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until DOUBLE PRECISION,
    updated_at TEXT NOT NULL
);
"""),
    # Replicas: one row per file and destination besides the primary (see SQLite's 0009).
    ("0007_copies", """
CREATE TABLE copies (
    id BIGSERIAL PRIMARY KEY,
    file_id BIGINT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    destination TEXT NOT NULL,
    host TEXT NOT NULL,
    grp TEXT,
    state TEXT NOT NULL
        CHECK (state IN ('pending', 'uploading', 'uploaded', 'failed', 'skipped')),
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    crc64 TEXT,
    content_type TEXT NOT NULL,
    sent_sha256 TEXT NOT NULL,
    sent_size BIGINT NOT NULL,
    sent_crc64 TEXT,
    strip_level TEXT NOT NULL DEFAULT 'none',
    stripped TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error TEXT,
    pending_key TEXT,
    tagging_owed TEXT,
    claimed_by TEXT,
    lease_until DOUBLE PRECISION,
    bucket TEXT,
    key TEXT,
    url TEXT,
    etag TEXT,
    request_id TEXT,
    uploaded_at TEXT,
    duplicate INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    UNIQUE (file_id, destination)
);
CREATE INDEX copies_due ON copies (destination, host, state, next_attempt);
CREATE INDEX copies_group_due ON copies (destination, grp, state, next_attempt)
    WHERE grp IS NOT NULL;
CREATE INDEX copies_claimed ON copies (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX copies_by_content ON copies (destination, sha256);
CREATE INDEX copies_by_time ON copies (destination, updated_at);
ALTER TABLE multipart_uploads ADD COLUMN destination TEXT NOT NULL DEFAULT '';
ALTER TABLE multipart_uploads DROP CONSTRAINT multipart_uploads_host_path_key;
ALTER TABLE multipart_uploads ADD UNIQUE (host, path, destination);
"""),
    # Direct uploads: each form an app was given (see SQLite's 0010).
    ("0008_app_uploads", """
CREATE TABLE app_uploads (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    folder TEXT NOT NULL,
    path TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('issued', 'recorded')),
    upload_id BIGINT REFERENCES uploads (id),
    checks INTEGER NOT NULL DEFAULT 0,
    next_check TEXT NOT NULL,
    UNIQUE (bucket, key)
);
CREATE INDEX app_uploads_due ON app_uploads (host, state, next_check);
"""),
)
