"""The top-level keys and the keys of each `watch[]` folder, in the order
`config.sample.yaml` shows them. Every default, bound and reload class here is what the
parser uses; `tests/test_config_schema.py` checks that the parser reads exactly these."""

from __future__ import annotations

from ossync.config.key import LIVE, RESTART, Key
from ossync.config.keys_objects import OBJECT_KEYS, WATCH_OBJECT_KEYS
from ossync.core.keys import DEFAULT_NAME, DEFAULT_PREFIX
from ossync.core.limits import (
    DEFAULT_PART_CONCURRENCY,
    MIB,
    OSS_MAX_OBJECT,
    OSS_MIN_PART,
    SINGLE_REQUEST_MAX,
)

IMAGE_EXTENSIONS = (
    "jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "tif", "tiff", "bmp", "avif",
    "dng", "cr2", "cr3", "nef", "arw", "orf", "rw2", "raf",
)
DEFAULT_INCLUDE = tuple(f"*.{ext}" for ext in IMAGE_EXTENSIONS)
DEFAULT_EXCLUDE = (
    ".*", "*~", "*.tmp", "*.temp", "*.part", "*.partial", "*.filepart", "*.crdownload",
    "*.download", "*.!ut", "~$*", "*.swp", "Thumbs.db", "desktop.ini",
)
# What `watch[].strip_metadata` removes before sending: nothing, the location, the location
# and owner/device identity, or all metadata but orientation and colour profile.
STRIP_LEVELS = ("none", "location", "private", "all")
DATE_SOURCES = ("exif", "mtime", "upload")
MAX_WORKERS = 64  # each holds a connection and a file open; more only queue at the link
MAX_CONCURRENCY = 64
DAY = 86400.0

TOP = (
    Key("oss", "section", "Upload to Alibaba Cloud OSS; exactly one of oss:, s3: and "
        "local: is configured.", note="Everything in oss:, s3: and local: needs a restart."),
    Key("s3", "section", "Upload to an S3-compatible store instead: AWS S3, MinIO, Ceph "
        "radosgw, Cloudflare R2, Tencent COS.", commented=True,
        note="Instead of oss:, exactly one of these (see docs/other-stores.md):"),
    Key("local", "section", "Copy into a local folder instead (served by your own web "
        "server).", commented=True),
    Key("ledger", "path", "The ledger, the queue and record of uploads: a SQLite file, or "
        "a postgresql:// URL that several hosts share.",
        default_text="$STATE_DIRECTORY/ledger.db under systemd, else "
                     "~/.local/state/ossync/ledger.db",
        example="/var/lib/ossync/ledger.db",
        note="PostgreSQL needs the postgres extra; the password comes from the URL,\n"
             "PGPASSWORD, ~/.pgpass or $CREDENTIALS_DIRECTORY/pgpassword (docs/fleet.md):\n"
             "ledger: postgresql://ossync@db.example/ossync?sslmode=verify-full"),
    Key("host", "name", "This daemon's name on every row it writes and in {host} of key "
        "templates.", default_text="the machine's host name", example="scanner-3",
        commented=True),
    Key("prefix", "template", "The start of every object key (docs/keys-and-urls.md: key "
        "templates); each folder may set its own.", DEFAULT_PREFIX, LIVE),
    Key("name", "template", "The rest of every object key: the file's part; each folder "
        "may set its own.", DEFAULT_NAME, LIVE),
    Key("date_source", "choice", "Where {date} comes from: exif (DateTimeOriginal, else "
        "mtime), mtime, or upload.", "exif", LIVE, choices=DATE_SOURCES),
    Key("timezone", "text", "The zone {date} and max_bandwidth schedules are read in: "
        "local, UTC, or e.g. Asia/Shanghai.", "local", LIVE),
    Key("settle_seconds", "duration", "How long a file must stay unchanged before it is "
        "uploaded; each folder may set its own.", "2s", LIVE, 0.0, DAY),
    Key("workers", "whole", "Files uploaded at once; more than 64 only queue at the link.",
        4, low=1, high=MAX_WORKERS),
    Key("retry_initial_delay", "duration", "The first wait after a retryable failure "
        "(network, 5xx); it doubles up to retry_max_delay, and retries never stop.", "2s",
        LIVE, 0.1, 3600.0),
    Key("retry_max_delay", "duration", "The longest wait between retries; at least "
        "retry_initial_delay.", "10m", LIVE, 0.1, DAY),
    Key("scan_interval", "duration", "How often every folder is walked for anything events "
        "missed; below 5s walks never rest.", "5m", LIVE, 5.0, DAY),
    Key("max_file_size", "size", "Larger files are refused (failed, not sent).",
        default_text="what the store holds: 48.8TiB (50000GiB) on OSS, 5TiB on S3 and local",
        bounds_note="at most 5TiB on S3 and local", example="10GiB", commented=True,
        reload=LIVE, low=1, high=OSS_MAX_OBJECT),
    Key("multipart_threshold", "size", "Files this big or bigger go in parts: in parallel, "
        "resumed after a crash (one request carries at most 5GiB).", "64MiB",
        low=MIB, high=SINGLE_REQUEST_MAX),
    Key("part_size", "size", "Bytes per part: auto is 8MiB, grown so a file fits in 10,000 "
        "parts; at most multipart_threshold.", "auto", low=OSS_MIN_PART,
        high=SINGLE_REQUEST_MAX, bounds_note="at least 5MiB on S3"),
    Key("part_concurrency", "whole", "Parts of one file in flight at once (each worker's "
        "own; the link is shared by all).", DEFAULT_PART_CONCURRENCY, low=1,
        high=MAX_CONCURRENCY),
    Key("max_bandwidth", "rate", "Cap on the bytes this host sends, shared by all workers: "
        "off, a rate (20MB/s, 100Mbit/s), or a daily schedule.", "off", LIVE, 10e3, 100e9,
        note="A schedule is a list of HH:MM-HH:MM RATE windows in local time (timezone:)\n"
             "and one plain rate for the rest of the day:\nmax_bandwidth:\n"
             "  - 08:00-19:00 5MB/s\n  - 20MB/s"),
    Key("unknown_keys", "choice", "A key ossync does not know: error (stop, and name it) "
        "or warn (log it and go on, for a config shared with a newer ossync).", "error",
        choices=("error", "warn")),
    *OBJECT_KEYS,
    Key("http", "section", "An HTTP listener for Prometheus metrics (/metrics), health "
        "checks (/healthz, /readyz), the URL API (/v1/files) and a status page (/); off "
        "unless this section is there.", commented=True,
        note="Needs the http extra: pip install 'ossync[http]'.\n"
             "See docs/monitoring.md and docs/http-api.md."),
    Key("replicas", "list", "More destinations besides the primary (oss:, s3: or local: "
        "above, whose URLs are the ones recorded and handed to apps): each file is copied to "
        "every replica its folder names, each copy tracked, retried and verified on its "
        "own.", commented=True,
        note="See docs/replicas.md. A replica's keys, workers and options need a restart."),
    Key("watch", "list", "The drop folders: one entry per folder, each with the keys "
        "below.", reload=LIVE,
        note="Every key of a folder is applied on reload (systemctl reload ossync)."),
)

WATCH = (
    Key("watch[].path", "path", "The folder to watch.", reload=LIVE,
        example="/srv/drop/camera1"),
    Key("watch[].label", "text", "Its name in the ledger and for `ossync ls --folder`.",
        reload=LIVE, default_text="the folder's name", example="camera1"),
    Key("watch[].prefix", "template", "The start of this folder's object keys.",
        reload=LIVE, default_text="the top-level prefix", example="camera1/{date:%Y/%m/%d}/"),
    Key("watch[].name", "template", "The rest of this folder's object keys.", reload=LIVE,
        default_text="the top-level name", example=DEFAULT_NAME),
    Key("watch[].recursive", "boolean", "Watch the folders inside it too.", True, LIVE),
    Key("watch[].create", "boolean", "Create the folder when it is missing (false: a "
        "missing folder is an error).", False, LIVE, example=True),
    Key("watch[].include", "globs", "File names to consider (case-blind).",
        list(DEFAULT_INCLUDE), LIVE, default_text="common image and camera RAW types"),
    Key("watch[].exclude", "globs", "File names never considered; hidden names (a leading "
        "dot) never are either.", list(DEFAULT_EXCLUDE), LIVE),
    Key("watch[].settle_seconds", "duration", "How long a file must stay unchanged before "
        "it is uploaded.", reload=LIVE, default_text="the top-level settle_seconds",
        low=0.0, high=DAY, example="2s"),
    Key("watch[].dedupe", "choice", "content: the same bytes already uploaded are recorded, "
        "not sent again; path: skip only this path's unchanged content; off: always send.",
        "content", LIVE, choices=("content", "path", "off")),
    Key("watch[].strip_metadata", "choice", "Metadata removed before sending, losslessly: "
        "none, location, private (location, serials, names, maker notes, thumbnails), or "
        "all but orientation and colour profile.", "none", LIVE, choices=STRIP_LEVELS,
        note="A file that cannot be cleaned is not sent: it fails with \"cannot strip\n"
             "metadata from ...\" until `ossync retry` or a change of this key."),
    Key("watch[].date_source", "choice", "Where {date} comes from for this folder.",
        reload=LIVE, choices=DATE_SOURCES, default_text="the top-level date_source",
        example="exif"),
    Key("watch[].after_upload", "choice", "What happens to the file once its upload is "
        "verified and recorded: keep, delete, or move (to move_to).", "keep", LIVE,
        choices=("keep", "delete", "move")),
    Key("watch[].move_to", "path", "Where after_upload: move puts files; outside the "
        "watched folder.", reload=LIVE, example="/srv/done/camera1", commented=True),
    *WATCH_OBJECT_KEYS,
    Key("watch[].observer", "choice", "native (inotify), or polling for SMB/NFS mounts, "
        "where inotify sees nothing.", "native", LIVE, choices=("native", "polling")),
    Key("watch[].poll_interval", "duration", "How often polling looks at the folder; "
        "below 0.5s it only burns CPU.", "5s", LIVE, 0.5, 3600.0),
    Key("watch[].replicas", "names", "The replicas this folder's files are copied to, by "
        "name; [] for none (the primary only).", reload=LIVE, default_text="every replica",
        example=["nas"], commented=True),
    Key("watch[].group", "name", "Hosts that mount the same share at the same path and "
        "share a PostgreSQL ledger: when one dies, another takes over its uploads.",
        reload=RESTART, example="studio-share", commented=True),
)
