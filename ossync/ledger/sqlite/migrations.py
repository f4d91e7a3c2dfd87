"""The ledger's schema, as named, append-only migrations.

Never edit a migration that has shipped: add a new one. Each is applied in the
same transaction as its row in `migrations`, so a crash leaves either both or
neither. Columns are documented in docs/ledger.md (a test keeps that honest).
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("0001_initial", """
CREATE TABLE uploads (
    id INTEGER PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    url TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    crc64 TEXT,
    etag TEXT,
    content_type TEXT,
    path TEXT NOT NULL,
    folder TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    request_id TEXT,
    UNIQUE (bucket, key)
);
CREATE INDEX uploads_by_sha256 ON uploads (sha256, bucket);
CREATE INDEX uploads_by_time ON uploads (uploaded_at);
CREATE INDEX uploads_by_folder_time ON uploads (folder, uploaded_at);
CREATE INDEX uploads_by_path ON uploads (path);

CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    folder TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('pending', 'uploading', 'uploaded', 'failed', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    sha256 TEXT,
    pending_key TEXT,
    upload_id INTEGER REFERENCES uploads (id),
    seen_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX files_due ON files (state, next_attempt);
CREATE INDEX files_by_upload ON files (upload_id);
CREATE INDEX files_by_sha256 ON files (sha256);
"""),
    ("0002_files_time_indexes", """
CREATE INDEX files_by_time ON files (updated_at);
CREATE INDEX files_by_state_time ON files (state, updated_at);
CREATE INDEX files_by_folder_time ON files (folder, updated_at);
CREATE INDEX uploads_by_key ON uploads (key);
"""),
    ("0003_hosts_leases_content_claims", """
ALTER TABLE files ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE files ADD COLUMN grp TEXT;
ALTER TABLE files ADD COLUMN claimed_by TEXT;
ALTER TABLE files ADD COLUMN lease_until REAL;
ALTER TABLE uploads ADD COLUMN host TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX files_by_host_path ON files (host, path);
CREATE TABLE content_claims (
    bucket TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    host TEXT NOT NULL,
    lease_until REAL NOT NULL,
    PRIMARY KEY (bucket, sha256)
);
"""),
    ("0004_sent_bytes_and_stripping", """
ALTER TABLE uploads ADD COLUMN sent_sha256 TEXT;
ALTER TABLE uploads ADD COLUMN sent_size INTEGER;
ALTER TABLE uploads ADD COLUMN sent_crc64 TEXT;
ALTER TABLE uploads ADD COLUMN strip_level TEXT NOT NULL DEFAULT 'none';
ALTER TABLE uploads ADD COLUMN stripped TEXT;
UPDATE uploads SET sent_sha256 = sha256, sent_size = size, sent_crc64 = crc64;
"""),
    ("0005_multipart_checkpoints", """
CREATE TABLE multipart_uploads (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    upload_id TEXT,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    part_size INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    UNIQUE (host, path)
);
CREATE TABLE multipart_parts (
    upload INTEGER NOT NULL REFERENCES multipart_uploads (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    crc64 TEXT,
    PRIMARY KEY (upload, number)
);
"""),
    # Paths are stored in the ledger form of ossync.core.textforms: a name holding a
    # backslash has it doubled (so that `\xff` can stand for a byte that is not UTF-8).
    # Rows written before are rewritten; the chr(1) step keeps every row unique meanwhile.
    ("0006_path_text_form", """
UPDATE files SET path = char(1) || replace(path, '\\', '\\\\') WHERE instr(path, '\\') > 0;
UPDATE files SET path = substr(path, 2) WHERE substr(path, 1, 1) = char(1);
UPDATE uploads SET path = replace(path, '\\', '\\\\') WHERE instr(path, '\\') > 0;
UPDATE multipart_uploads SET path = char(1) || replace(path, '\\', '\\\\')
    WHERE instr(path, '\\') > 0;
UPDATE multipart_uploads SET path = substr(path, 2) WHERE substr(path, 1, 1) = char(1)
"""),
    # Object options: tags that could not go with the object (OSS PostObject) are owed by
    # the row until PutObjectTagging succeeds, so a crash between the two ends in tagging,
    # not a second upload.
    ("0007_files_tagging_owed", """
ALTER TABLE files ADD COLUMN tagging_owed TEXT;
"""),
    # Events apps hear about (webhooks, the command hook, /v1/events) and one cursor per
    # delivery endpoint. Ids are never reused: events are only ever deleted from the
    # oldest, never the newest (a plain rowid would reuse the largest id after its
    # deletion; AUTOINCREMENT would add a table of its own).
    ("0008_events_and_deliveries", """
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    host TEXT NOT NULL,
    folder TEXT,
    data TEXT NOT NULL
);
CREATE TABLE deliveries (
    endpoint TEXT PRIMARY KEY,
    delivered INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    sent INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    given_up INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until REAL,
    updated_at TEXT NOT NULL
)
"""),
    # Replicas: one row per file and destination besides the primary (whose copy stays the
    # `files` row and its `uploads` row: nothing of today's rows changes, nothing is sent
    # again). A checkpoint of a multipart upload names its destination: the table is made
    # again with (host, path, destination) unique, the parts first and back last, so no
    # cascade ever runs.
    ("0009_copies", """
CREATE TABLE copies (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    destination TEXT NOT NULL,
    host TEXT NOT NULL,
    grp TEXT,
    state TEXT NOT NULL
        CHECK (state IN ('pending', 'uploading', 'uploaded', 'failed', 'skipped')),
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    crc64 TEXT,
    content_type TEXT NOT NULL,
    sent_sha256 TEXT NOT NULL,
    sent_size INTEGER NOT NULL,
    sent_crc64 TEXT,
    strip_level TEXT NOT NULL DEFAULT 'none',
    stripped TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    pending_key TEXT,
    tagging_owed TEXT,
    claimed_by TEXT,
    lease_until REAL,
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
CREATE INDEX copies_by_content ON copies (destination, sha256);
CREATE INDEX copies_by_time ON copies (destination, updated_at);
CREATE TABLE multipart_uploads_new (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    upload_id TEXT,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    part_size INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    destination TEXT NOT NULL DEFAULT '',
    UNIQUE (host, path, destination)
);
CREATE TABLE multipart_parts_new (
    upload INTEGER NOT NULL REFERENCES multipart_uploads_new (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    crc64 TEXT,
    PRIMARY KEY (upload, number)
);
INSERT INTO multipart_uploads_new (id, host, path, bucket, key, upload_id, sha256, size,
    part_size, started_at) SELECT id, host, path, bucket, key, upload_id, sha256, size,
    part_size, started_at FROM multipart_uploads;
INSERT INTO multipart_parts_new SELECT upload, number, size, etag, crc64 FROM multipart_parts;
DROP TABLE multipart_parts;
DROP TABLE multipart_uploads;
ALTER TABLE multipart_uploads_new RENAME TO multipart_uploads;
ALTER TABLE multipart_parts_new RENAME TO multipart_parts
"""),
    # Direct uploads: each form an app was given (POST /v1/uploads), so that a callback, a
    # confirm or the periodic check can record what landed (and only what was issued),
    # once; a form never used is deleted after it expired.
    ("0010_app_uploads", """
CREATE TABLE app_uploads (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    folder TEXT NOT NULL,
    path TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('issued', 'recorded')),
    upload_id INTEGER REFERENCES uploads (id),
    checks INTEGER NOT NULL DEFAULT 0,
    next_check TEXT NOT NULL,
    UNIQUE (bucket, key)
);
CREATE INDEX app_uploads_due ON app_uploads (host, state, next_check);
"""),
)
