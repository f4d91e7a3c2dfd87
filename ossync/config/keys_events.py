"""The keys of what apps hear: the top-level `webhooks:` list, `on_upload`, the heartbeat,
and the keys of each webhook, in the order `config.sample.yaml` shows them. Everything
here needs a restart (docs/events.md tells the whole story)."""

from __future__ import annotations

from ossync.config.key import Key

DAY = 86400.0
# ossync.ledger.events.NAMES (config may not import it)
EVENT_TYPES = ("file.uploaded", "file.failed", "service.held", "service.resumed",
               "delivery.gave_up", "copy.stored", "copy.failed")
PLACEHOLDERS = ("path", "url", "key", "sha256", "folder", "size", "bucket", "host",
                "content_type", "id")

EVENTS_TOP = (
    Key("webhooks", "list", "Signed webhooks (the Standard Webhooks spec): each event is "
        "POSTed to each endpoint, in order, retried until it answers 2xx; off unless this "
        "list is there.", commented=True,
        note="docs/events.md: the events, the signature, and how a receiver checks it."),
    Key("on_upload", "argv", "A command run for every upload recorded (file.uploaded), "
        "without a shell: a list of arguments in which {path}, {url}, {key}, {sha256}, "
        "{folder}, {size}, {bucket}, {host}, {content_type} and {id} are replaced; exit "
        "status 0 means done, anything else is tried again like a webhook.",
        example=["/usr/local/bin/photo-added", "{path}", "{url}"], commented=True,
        note="The event's JSON comes on its standard input; its output is logged."),
    Key("on_upload_timeout", "duration", "How long one run of on_upload may take; then it "
        "is killed (its process group) and tried again later.", "1m", low=1.0,
        high=3600.0),
    Key("heartbeat_url", "url", "A URL fetched (GET) every heartbeat_interval while the "
        "daemon is healthy and uploads are not held, and never otherwise: a dead man's "
        "switch (healthchecks.io, Uptime Kuma push).", example="https://hc-ping.com/UUID",
        commented=True),
    Key("heartbeat_interval", "duration", "How often heartbeat_url is fetched; the "
        "service watching it should allow a few missed ones.", "1m", low=10.0, high=DAY),
)

WEBHOOKS = (
    Key("webhooks[].url", "url", "Where the events are POSTed: an http or https URL "
        "without a user or password; TLS is verified and redirects are not followed.",
        example="https://app.example.com/hooks/ossync"),
    Key("webhooks[].name", "name", "The endpoint's name in the ledger (its place in the "
        "events is kept under it), the metrics and the log.",
        default_text="the URL's host, port and path, e.g. app.example.com-hooks-ossync",
        example="app", commented=True),
    Key("webhooks[].secret_file", "path", "A file holding the signing secret: whsec_ and "
        "the base64 of 24 to 64 random bytes, readable by the daemon's user alone "
        "(chmod 600).",
        default_text="$CREDENTIALS_DIRECTORY/webhook_secret when systemd gives it",
        example="/etc/ossync/webhook_secret",
        note="Make one with: echo \"whsec_$(openssl rand -base64 32)\" > webhook_secret"),
    Key("webhooks[].events", "choices", "The event types sent; the others are passed "
        "over.", choices=EVENT_TYPES, default_text="every type", example=["file.uploaded"],
        commented=True),
    Key("webhooks[].folders", "names", "Only events of these watch folders (by label); "
        "events of no folder (service.held, service.resumed) always go.",
        default_text="every folder", example=["camera1"], commented=True),
    Key("webhooks[].timeout", "duration", "How long one delivery may take to connect and "
        "to be answered.", "10s", low=1.0, high=120.0),
    Key("webhooks[].retry_max_delay", "duration", "The longest wait between attempts at "
        "an event: 1s after the first failure, doubling up to this.", "5m", low=1.0,
        high=DAY),
    Key("webhooks[].max_age", "duration", "An event not taken this long after it was "
        "recorded is given up on (a delivery.gave_up event says so).", "3d", low=60.0,
        high=30 * DAY),
)
