"""The keys of `uploads:`: apps (phones, browsers, mini-programs) sending photos straight
to the store through forms ossync signs, in the order `config.sample.yaml` shows them.
Everything here needs a restart (docs/direct-uploads.md tells the whole story)."""

from __future__ import annotations

from ossync.config.key import Key
from ossync.core.keys import APP_NAME, APP_PREFIX
from ossync.core.limits import SINGLE_REQUEST_MAX

# What a browser or a phone usually calls a photo; never a type a browser would run as a
# page (HTML, SVG, XML, scripts), so an upload cannot become a page on the bucket's site.
DEFAULT_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic",
                 "image/heif", "image/avif")
MAX_FILES = 100
HOUR = 3600.0

UPLOADS_TOP = (
    Key("uploads", "section", "Direct uploads: apps (phones, browsers, mini-programs) ask "
        "POST /v1/uploads for signed forms and send their photos straight to the store; "
        "each is recorded in the ledger like a watched file. Needs http:; off unless this "
        "section is there.", commented=True,
        note="docs/direct-uploads.md: the flow, a mini-program and an H5 snippet, the bucket's\n"
             "CORS rule and the RAM policy."),
)

UPLOADS = (
    Key("uploads.token_file", "path", "A file of the bearer tokens that may ask for "
        "uploads (and nothing else: not /v1/files, not the status page), one a line, "
        "readable by the daemon's user alone, each random like http.token_file's.",
        default_text="$CREDENTIALS_DIRECTORY/upload_token when systemd gives it",
        example="/etc/ossync/upload_tokens"),
    Key("uploads.folder", "name", "The label app uploads carry in the ledger (ls --folder, "
        "/v1/files?folder=, the events); not a watch folder's label.", "app"),
    Key("uploads.prefix", "template", "The start of an app upload's object key: the "
        "template language of watch folders with {date} (the time it was asked for), "
        "{id}, {stem}, {ext}, {host} and {folder}.", APP_PREFIX),
    Key("uploads.name", "template", "The rest of its key: {id} is the upload's "
        "unguessable id (the bytes are not known before they are sent), {stem} the "
        "client's file name made safe, {ext} the extension of its type.", APP_NAME),
    Key("uploads.max_file_size", "size", "The largest file an app may send (its form "
        "pins the exact size; one POST carries at most 5GiB).", "50MB", low=1,
        high=SINGLE_REQUEST_MAX),
    Key("uploads.types", "names", "The content types an app may send; each form pins "
        "the one declared. Types a browser would run as a page (HTML, SVG, XML, scripts) "
        "are refused.", list(DEFAULT_TYPES)),
    Key("uploads.expires", "duration", "How long a signed form may be used; shorter when "
        "the keys expire sooner.", "10m", low=60.0, high=HOUR),
    Key("uploads.max_files", "whole", "Files one POST /v1/uploads may ask forms for.", 9,
        low=1, high=MAX_FILES),
    Key("uploads.callback_url", "url", "OSS only: the URL OSS calls when an upload has "
        "landed, this listener's /v1/uploads/callback as the Internet reaches it (through "
        "your TLS proxy); without it apps confirm each upload (POST "
        "/v1/uploads/ID/done).", example="https://uploads.example.com/v1/uploads/callback",
        commented=True),
    Key("uploads.check_interval", "duration", "How often uploads asked for and not yet "
        "recorded are looked for in the bucket (a HEAD each, once their form expired): an "
        "app that never confirmed, or a callback that failed, loses nothing.", "1m",
        low=5.0, high=HOUR),
    Key("uploads.trust_local_endpoint", "boolean", "Tests and the demo only: also trust "
        "the callback key the bundled local endpoint serves (ossync local-oss); refused "
        "unless oss.endpoint is a loopback address.", False),
)
