"""The keys of the target sections (`oss:`, `s3:`, `local:`) and of `http:`, in the order
`config.sample.yaml` shows them. Everything here needs a restart."""

from __future__ import annotations

from ossync.config.key import Key

WEEK = 7 * 86400.0  # the longest OSS and S3 accept for a signed form or URL
OSS_SOURCES = ("auto", "config", "credentials_directory", "environment", "credentials_file",
               "credential_process", "ecs_ram_role")
S3_SOURCES = (*OSS_SOURCES[:-1], "instance_metadata")


def _timeouts(section: str) -> tuple[Key, Key]:
    return (
        Key(f"{section}.connect_timeout", "duration", "How long to wait for a connection "
            "to the store.", "10s", low=0.5, high=300.0),
        Key(f"{section}.read_timeout", "duration", "How long to wait for each answer, or "
            "for the store to take the next bytes.", "60s", low=0.5, high=3600.0),
    )


def _policy(section: str) -> Key:
    return Key(f"{section}.policy_expires", "duration", "How long one signed upload form "
               "stays valid; it must outlive the start of its upload.", "15m", low=60.0,
               high=WEEK)


OSS = (
    Key("oss.endpoint", "url", "The region's endpoint, without the bucket (for a local "
        "endpoint: http://127.0.0.1:9000, path-style).",
        example="https://oss-cn-hangzhou.aliyuncs.com"),
    Key("oss.region", "text", "The bucket's region.", example="cn-hangzhou",
        default_text="read from a standard endpoint"),
    Key("oss.bucket", "text", "The bucket: 3-63 lower-case letters, digits and hyphens.",
        example="my-bucket"),
    Key("oss.signature_version", "choice", "4 (OSS4-HMAC-SHA256), or 1 only for buckets "
        "created before September 2025.", 4, choices=("1", "4")),
    Key("oss.public_url", "url", "The base of the URLs ossync records (a CDN or custom "
        "domain).", default_text="the bucket URL", example="https://img.example.com/",
        commented=True),
    Key("oss.url_mode", "choice", "What `ossync url/ls/show` print: signed (presigned URLs, "
        "which work on a private bucket) or public (the recorded URLs).",
        choices=("public", "signed"), default_text="public with a public_url, else signed",
        example="signed", commented=True),
    Key("oss.url_expires", "duration", "How long a signed URL works.", "1h", low=1.0,
        high=WEEK),
    Key("oss.cname", "boolean", "true when endpoint is a custom domain bound to the bucket "
        "(required for new mainland-China accounts since 2025-03-20).", False,
        note="The signing region stays the bucket's region."),
    _policy("oss"),
    *_timeouts("oss"),
    Key("oss.access_key_id", "text", "The AccessKey ID, when the keys are in this file "
        "(use ${VAR}).", example="${OSS_ACCESS_KEY_ID}", commented=True,
        note="Credentials (docs/oss.md: Credentials). The first source configured is used, in "
             "this\norder: 1. the keys below, 2. systemd credentials (files "
             "oss_access_key_id /\noss_access_key_secret / oss_session_token in "
             "$CREDENTIALS_DIRECTORY), 3. the\nenvironment (OSS_ACCESS_KEY_ID, "
             "OSS_ACCESS_KEY_SECRET, OSS_SESSION_TOKEN), and keys\nthat rotate, refreshed "
             "before they expire: 4. credentials_file, 5. credential_process,\n6. "
             "ecs_ram_role. In this file, use ${VAR} rather than the secret itself."),
    Key("oss.access_key_secret", "text", "Its secret.", example="${OSS_ACCESS_KEY_SECRET}",
        commented=True, secret=True),
    Key("oss.security_token", "text", "The STS token of temporary keys.",
        example="${OSS_SESSION_TOKEN}", commented=True, secret=True),
    Key("oss.credential_source", "choice", "Use only this source; auto: the first one "
        "configured, in the order config, credentials_directory, environment, "
        "credentials_file, credential_process, ecs_ram_role.", "auto", choices=OSS_SOURCES),
    Key("oss.credentials_file", "path", "A JSON document another program rewrites; re-read "
        "when it changes.", example="/run/ossync/oss-keys.json", commented=True,
        note='{"AccessKeyId": ..., "AccessKeySecret": ..., "SecurityToken": ...,\n'
             '"Expiration": "2026-11-25T10:00:00Z"}'),
    Key("oss.credential_process", "command", "A command that prints that document (run "
        "without a shell, again before the keys expire).",
        example="/usr/local/bin/get-oss-creds", commented=True),
    Key("oss.ecs_ram_role", "text", "The ECS instance's RAM role from the metadata service "
        "(token mode); auto asks the service for its name.",
        default_text="$ALIBABA_CLOUD_ECS_METADATA, else off", example="auto",
        commented=True),
    Key("oss.metadata_url", "url", "Where the metadata service answers.",
        "http://100.100.100.200"),
)

S3 = (
    Key("s3.endpoint", "url", "The store's endpoint, without the bucket.",
        example="https://s3.eu-west-1.amazonaws.com"),
    Key("s3.region", "text", "The bucket's region.", example="eu-west-1",
        default_text="from an amazonaws.com endpoint, else us-east-1"),
    Key("s3.bucket", "text", "The bucket: 3-63 lower-case letters, digits, dots and "
        "hyphens.", example="my-bucket"),
    Key("s3.addressing", "choice", "virtual (bucket.host) or path (host/bucket).",
        choices=("virtual", "path"), default_text="path for an IP address or localhost, "
        "else virtual", example="virtual"),
    Key("s3.method", "choice", "post (a SigV4 form) or put (for R2 and COS, which take no "
        "POST policies).", "post", choices=("post", "put")),
    Key("s3.if_none_match", "boolean", "PUT with If-None-Match: *; false: a HEAD before "
        "each PUT.", True),
    Key("s3.public_url", "url", "The base of the URLs ossync records.",
        default_text="the bucket URL", example="https://img.example.com/", commented=True),
    _policy("s3"),
    *_timeouts("s3"),
    Key("s3.access_key_id", "text", "The access key id, when the keys are in this file "
        "(use ${VAR}).", example="${AWS_ACCESS_KEY_ID}", commented=True,
        note="Credentials: here with ${VAR}, or files aws_access_key_id /\n"
             "aws_secret_access_key / aws_session_token in $CREDENTIALS_DIRECTORY, or\n"
             "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or keys that "
             "rotate."),
    Key("s3.secret_access_key", "text", "Its secret.", example="${AWS_SECRET_ACCESS_KEY}",
        commented=True, secret=True),
    Key("s3.session_token", "text", "The session token of temporary keys.",
        example="${AWS_SESSION_TOKEN}", commented=True, secret=True),
    Key("s3.credential_source", "choice", "Use only this source; auto: the first one "
        "configured, in the order config, credentials_directory, environment, "
        "credentials_file, credential_process, instance_metadata.", "auto",
        choices=S3_SOURCES),
    Key("s3.credentials_file", "path", "A JSON document another program rewrites.",
        example="/run/ossync/s3-keys.json", commented=True),
    Key("s3.credential_process", "command", "A command that prints that document.",
        example="aws configure export-credentials --format process", commented=True),
    Key("s3.instance_role", "text", "The EC2 instance profile (IMDSv2); auto asks the "
        "service for its name.", default_text="off", example="auto", commented=True),
    Key("s3.metadata_url", "url", "Where the metadata service answers.",
        "http://169.254.169.254"),
)

LOCAL = (
    Key("local.path", "path", "The folder objects are copied into; it must be writable by "
        "ossync.", example="/srv/www/images"),
    Key("local.create", "boolean", "Create path when it is missing.", False),
    Key("local.base_url", "url", "The base of the URLs ossync records.",
        default_text="file:// URLs", example="https://img.example.com/images",
        commented=True),
)

HTTP = (
    Key("http.listen", "text", "Where to listen (HOST:PORT); any address but loopback "
        "needs a token. The listener speaks plain HTTP: reach it from other hosts through "
        "a TLS proxy.", "127.0.0.1:9469"),
    Key("http.token_file", "path", "A file holding the bearer token: one line, readable by "
        "the daemon's user alone (chmod 600), random (about 80 bits at least, e.g. from "
        "`openssl rand -hex 32`).",
        default_text="$CREDENTIALS_DIRECTORY/http_token when systemd gives it",
        example="/etc/ossync/http_token", commented=True),
    Key("http.require_token", "choice", "Whether /metrics, /v1/files and the status page "
        "need the token on loopback too: always, never, or auto: when /etc/passwd lists a "
        "login user (uid from UID_MIN to UID_MAX of /etc/login.defs, 1000 to 60000 "
        "without it; a shell other than nologin or false) who is not the daemon's user "
        "and not in group sudo, wheel or admin. Required without a token, they answer "
        "401.", "auto", choices=("auto", "always", "never")),
    Key("http.session_lifetime", "duration", "How long a sign-in to the status page lasts "
        "(its cookie holds a random id, never the token).", "8h", low=300.0, high=WEEK),
    Key("http.ready_within", "duration", "/readyz fails when the store has not answered for "
        "this long (it probes it then).", "5m", low=10.0, high=86400.0),
    Key("http.rate_limit", "number", "Requests per second per client address, and new "
        "connections except from loopback (0: no limit).", 20, low=0, high=10000),
    Key("http.rate_burst", "whole", "Requests a client may send at once before rate_limit "
        "applies.", 100, low=1, high=10000),
    Key("http.client_connections", "whole", "Connections one client may hold open (all of "
        "loopback counts as one client, and an IPv6 /64); a new one beyond closes its "
        "oldest that is only waiting, so a monitor always gets in.", 16, low=1,
        high=256),
    Key("http.request_timeout", "duration", "How long a client has to send a whole "
        "request, headers and body, once its connection opened or its last answer went "
        "out; slower ones are closed.", "10s", low=1.0, high=300.0),
    Key("http.max_url_expires", "duration", "The longest expires= a /v1/files caller may "
        "ask for.", default_text="oss.url_expires", low=1.0, high=WEEK, example="1h",
        commented=True),
    Key("http.allow_process", "boolean", "Let /v1/files callers ask for OSS image "
        "processing (process=), limited to resize, crop, rotate, format, quality and "
        "auto-orient with checked parameters; false refuses process=.", True),
)
