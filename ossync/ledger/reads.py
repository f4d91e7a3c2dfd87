"""Read-side of the ledger for apps and the CLI: URLs by path, records by key or hash, lists.

Every look-up uses an index (`files.path`, `uploads(bucket, key)`, `uploads.sha256`,
`files.updated_at`), so answers stay fast at millions of rows. Safe to use while
the daemon writes (WAL).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ossync.core.errors import OssyncError
from ossync.targets.oss.presign import Lifetime, UrlSigner, with_process

STATES = ("pending", "uploading", "uploaded", "failed", "skipped")
_ITEM_SQL = """
SELECT f.path, f.folder, f.state, f.size, f.mtime_ns, f.sha256, f.attempts, f.last_error,
       f.seen_at, f.updated_at, u.bucket, u.key, u.url, u.etag, u.crc64, u.content_type,
       u.uploaded_at, u.path AS uploaded_from
FROM files f LEFT JOIN uploads u ON u.id = f.upload_id AND f.state = 'uploaded'
"""


@dataclass(frozen=True)
class Item:
    """One local path and, once uploaded, the object that holds its content.

    `uploaded_from` differs from `path` when the content was already uploaded from
    another path (a dedupe alias).
    """

    path: str
    folder: str
    state: str
    size: int
    mtime_ns: int
    sha256: str | None
    attempts: int
    last_error: str | None
    seen_at: str
    updated_at: str
    bucket: str | None
    key: str | None
    url: str | None
    etag: str | None
    crc64: str | None
    content_type: str | None
    uploaded_at: str | None
    uploaded_from: str | None


def stamp(moment: datetime) -> str:
    """A bound comparable with the ledger's stored RFC 3339 text."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def item_url(item: Item, signer: UrlSigner | None, *, expires: Lifetime | None = None,
             process: str | None = None) -> str | None:
    """Signed by `signer` if one is given, else the recorded URL; None until uploaded."""
    if item.url is None or item.bucket is None or item.key is None:
        return None
    if signer is None:
        return with_process(item.url, process)
    return signer.sign(item.bucket, item.key, expires=expires, process=process)


def _items(rows: list[sqlite3.Row]) -> list[Item]:
    return [Item(**dict(row)) for row in rows]


class SignerMissing(OssyncError):
    """A signed URL was asked for, but no credentials were given to sign it with."""


class LedgerQueries:
    """Mixed into `Ledger`; needs only its `query()`."""

    signer: UrlSigner | None = None  # mints signed URLs for url_for(signed=True)

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    def stream(self, sql: str, params: tuple[Any, ...] = (), batch: int = 1000
               ) -> Iterator[sqlite3.Row]:
        raise NotImplementedError

    def item(self, path: str) -> Item | None:
        rows = self.query(_ITEM_SQL + "WHERE f.path = ?", (path,))
        return _items(rows)[0] if rows else None

    def url_for(self, path: str, *, signed: bool = False, expires: Lifetime | None = None,
                process: str | None = None) -> str | None:
        """The URL of the object holding this path's current content, if uploaded.

        By default the recorded (unsigned) URL. `signed=True` mints a presigned URL
        with `self.signer` (set it to `UrlSigner.from_config(config)`), valid for
        `expires` (seconds or a timedelta; default the config's `url_expires`).
        `process` adds `x-oss-process` (e.g. `image/resize,w_300`), signed when signing.
        """
        found = self.item(path)
        if found is None:
            return None
        return self.url_of(found, signed=signed, expires=expires, process=process)

    def url_of(self, item: Item, *, signed: bool = False, expires: Lifetime | None = None,
               process: str | None = None) -> str | None:
        """An item's URL as `url_for` gives it (None until it is uploaded)."""
        if signed and self.signer is None:
            raise SignerMissing("signed URLs need credentials: set ledger.signer = "
                                "UrlSigner.from_config(load_config(path)) first")
        return item_url(item, self.signer if signed else None, expires=expires,
                        process=process)

    def find(self, *, sha256: str | None = None, key: str | None = None,
             path: str | None = None) -> list[Item]:
        """Every path recorded for a content hash, an object key, or one path."""
        if path is not None:
            found = self.item(path)
            return [found] if found else []
        if key is not None:
            where, param = "u.key = ?", key
        elif sha256 is not None:
            where, param = "u.sha256 = ?", sha256.lower()
        else:
            raise ValueError("find() needs sha256=, key= or path=")
        sql = _ITEM_SQL + f"WHERE f.upload_id IN (SELECT id FROM uploads u WHERE {where})"
        return _items(self.query(sql + " ORDER BY f.updated_at", (param,)))

    def items(self, *, since: datetime | None = None, until: datetime | None = None,
              folder: str | None = None, state: str | None = "uploaded",
              limit: int | None = None) -> list[Item]:
        """Paths newest first by the time their state last changed (for uploads: recorded)."""
        return list(self.iter_items(since=since, until=until, folder=folder, state=state,
                                    limit=limit))

    def iter_items(self, *, since: datetime | None = None, until: datetime | None = None,
                   folder: str | None = None, state: str | None = "uploaded",
                   limit: int | None = None) -> Iterator[Item]:
        clauses, params = [], []
        if since is not None:
            clauses.append("f.updated_at >= ?")
            params.append(stamp(since))
        if until is not None:
            clauses.append("f.updated_at < ?")
            params.append(stamp(until))
        if folder is not None:
            clauses.append("f.folder = ?")
            params.append(folder)
        if state is not None:
            clauses.append("f.state = ?")
            params.append(state)
        sql = _ITEM_SQL + (" WHERE " + " AND ".join(clauses) if clauses else "")
        sql += " ORDER BY f.updated_at DESC, f.id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for row in self.stream(sql, tuple(params)):
            yield Item(**dict(row))

    def status(self) -> Status:
        midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0,
                                                       microsecond=0)
        return _status(self, midnight)

    def uploads(self, *, since: datetime | None = None, until: datetime | None = None,
                folder: str | None = None) -> list[Item]:
        """Uploaded paths in a time range, newest first (the Python API's feed)."""
        return self.items(since=since, until=until, folder=folder, state="uploaded")


@dataclass(frozen=True)
class Status:
    """A daemon-independent summary, read from the ledger alone."""

    queued: int
    in_progress: int
    failed: int
    skipped: int
    uploaded_files: int
    uploaded_today: int
    uploads_total: int
    oldest_pending_since: str | None
    last_upload_at: str | None
    top_errors: list[tuple[str, int]]


def _status(q: LedgerQueries, today_start: datetime) -> Status:
    counts = {r["state"]: r["n"] for r in
              q.query("SELECT state, COUNT(*) AS n FROM files GROUP BY state")}
    uploads = q.query("SELECT COUNT(*) AS n, MAX(uploaded_at) AS last FROM uploads")[0]
    today = q.query("SELECT COUNT(*) AS n FROM uploads WHERE uploaded_at >= ?",
                    (stamp(today_start),))[0]["n"]
    oldest = q.query("SELECT MIN(seen_at) AS t FROM files WHERE state IN "
                     "('pending', 'uploading')")[0]["t"]
    errors = q.query("SELECT last_error, COUNT(*) AS n FROM files WHERE state = 'failed' "
                     "GROUP BY last_error ORDER BY n DESC LIMIT 5")
    return Status(
        queued=counts.get("pending", 0), in_progress=counts.get("uploading", 0),
        failed=counts.get("failed", 0), skipped=counts.get("skipped", 0),
        uploaded_files=counts.get("uploaded", 0), uploaded_today=today,
        uploads_total=uploads["n"], oldest_pending_since=oldest,
        last_upload_at=uploads["last"],
        top_errors=[(r["last_error"] or "(no message)", r["n"]) for r in errors],
    )
