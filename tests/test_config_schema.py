"""The schema is the one source of every key: the parser reads exactly its keys, each has
a description, a default or an example, bounds when it is a number, and a reload class;
`reload_plan` names what a SIGHUP changes and what waits for a restart."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from ossync.config import Config, parse_config, reload_plan
from ossync.config.key import LIVE, NUMERIC, RESTART
from ossync.config.schema import KEYS, SECTIONS, normal, section_keys, spec
from tests.config_docs import base_doc

from .conftest import ACCESS_KEY_ID, SECRET

ENV = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET,
       "OSS_SESSION_TOKEN": "sts-token", "AWS_ACCESS_KEY_ID": "AKIAOSSYNCTEST",
       "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": "session-token"}
# What the daemon applies on SIGHUP (the list); everything else needs a restart.
LIVE_KEYS = {"prefix", "name", "date_source", "settle_seconds", "timezone", "scan_interval",
             "max_file_size", "retry_initial_delay", "retry_max_delay", "max_bandwidth",
             "watch", *(k.path for k in section_keys("watch") if k.path != "watch[].group"),
             # the object options: every upload after the reload carries the new ones
             "storage_class", "acl", "server_side_encryption", "kms_key_id", "cache_control",
             "content_disposition", "tags", "metadata", "object_record"}
# watch[].group is read once: the folder groups a host claims rows of are fixed at start.
TOKEN = "5be0c93f71a2d84e6c0f2a97b1d35e84"  # random: a patterned token is refused
UPLOAD_TOKEN = "c4e19a7f03b2d86e5a1f9c0b7d3e28f4"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's example secret


def _doc(tmp_path: Path, target: str = "oss") -> dict[str, Any]:
    return base_doc(tmp_path, target)


def _parse(doc: dict[str, Any], tmp_path: Path) -> Config:
    return parse_config(doc, base=tmp_path, env=ENV)


def _full(tmp_path: Path, target: str) -> dict[str, Any]:
    """A document that sets every key of the top level, of `target`, of http: and of one
    watch folder, to its example (or default), made to work in `tmp_path`."""
    doc = _doc(tmp_path, target)
    doc["webhooks"] = [{}]
    (tmp_path / "nas").mkdir(exist_ok=True)
    doc["replicas"] = [{"name": "nas", "local": {"path": str(tmp_path / "nas")}}]
    for key in KEYS:
        value = key.default if key.example is None else key.example
        sections = ("", "watch", "webhooks", "replicas", target, "http") + (
            ("uploads",) if target != "local" else ())  # apps send to a bucket only
        if key.kind in ("section", "list") or key.section not in sections:
            continue
        section = doc if key.section == "" else doc[key.section][0] \
            if key.section in ("watch", "webhooks", "replicas") \
            else doc.setdefault(key.section, {})
        section.setdefault(key.name, value)
    secret = tmp_path / "webhook_secret"
    secret.write_text(WEBHOOK_SECRET)
    secret.chmod(0o600)
    doc["webhooks"][0].update(secret_file=str(secret), folders=["drop"])
    doc["on_upload"] = [sys.executable, "{path}"]
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)  # the daemon's user's alone, or the token is refused
    done = tmp_path / "done"
    done.mkdir(exist_ok=True)
    doc["watch"][0].update(move_to=str(done), after_upload="move")
    doc["http"].update(token_file=str(token))
    if target != "local":
        tokens = tmp_path / "upload_tokens"
        tokens.write_text(UPLOAD_TOKEN + "\n")
        tokens.chmod(0o600)
        doc["uploads"].update(token_file=str(tokens))
        if target == "s3":  # only OSS calls back
            del doc["uploads"]["callback_url"]
    if target in ("oss", "s3"):
        doc[target].update(credential_process=sys.executable,
                           credentials_file=str(tmp_path / "keys.json"))
    doc.update(ledger="ledger.db")
    return doc


def test_every_key_is_described() -> None:
    paths = [key.path for key in KEYS]
    assert len(paths) == len(set(paths)), "a key is listed twice"
    for key in KEYS:
        assert key.section in SECTIONS, key.path
        assert key.text and "\n" not in key.text and key.text.endswith("."), key.path
        assert key.reload in (LIVE, RESTART), key.path
        if key.numeric:
            assert key.low is not None and key.high is not None and key.low <= key.high
            assert key.bounds, key.path
        else:
            assert key.low is None and key.high is None, key.path
        if key.kind == "choice":
            assert key.choices, key.path
        if key.kind not in ("section", "list"):
            assert key.default is not None or key.example is not None, (
                f"{key.path}: the sample needs a default or an example")


def test_the_parser_reads_exactly_the_schemas_keys(tmp_path: Path) -> None:
    """Every key the parser reads (set or not) has a schema entry, and every schema entry
    is read: a key added to one and not the other fails here."""
    read: set[str] = set()
    for target in ("oss", "s3", "local"):
        config = _parse(_full(tmp_path, target), tmp_path)
        read |= {normal(path) for path in config.settings}
    listed = {key.path for key in KEYS if key.kind not in ("section", "list")}
    assert read - listed == set(), "read by the parser, but not in the schema"
    assert listed - read == set(), "in the schema, but never read by the parser"


def test_a_key_without_a_schema_entry_cannot_be_read() -> None:
    with pytest.raises(KeyError, match="no entry in ossync/config/keys_"):
        spec("oss.colour")
    assert spec("watch[12].prefix").path == "watch[].prefix"


def test_reload_classes_are_the_ones_the_daemon_applies() -> None:
    assert {key.path for key in KEYS if key.reload == LIVE} == LIVE_KEYS
    assert {key.section for key in KEYS if key.reload == LIVE} == {"", "watch"}
    assert spec("unknown_keys").reload == RESTART  # new keys need a restart


def test_bounds_are_given_for_every_number() -> None:
    numeric = {key.path for key in KEYS if key.kind in NUMERIC}
    assert {"workers", "scan_interval", "retry_initial_delay", "part_size",
            "oss.url_expires", "http.rate_limit", "watch[].poll_interval"} <= numeric


# --- reload_plan ---------------------------------------------------------------------


@pytest.mark.parametrize(("change", "live", "restart"), [
    ({"workers": 8}, [], ["workers"]),
    ({"host": "other-host"}, [], ["host"]),
    ({"ledger": "other.db"}, [], ["ledger"]),
    ({"multipart_threshold": "128MiB"}, [], ["multipart_threshold"]),
    ({"part_size": "16MiB"}, [], ["part_size"]),
    ({"part_concurrency": 2}, [], ["part_concurrency"]),
    ({"unknown_keys": "warn"}, [], ["unknown_keys"]),
    ({"prefix": "photos/"}, ["prefix", "watch[0].prefix"], []),
    ({"name": "{sha256}{ext}"}, ["name", "watch[0].name"], []),
    ({"date_source": "mtime"}, ["date_source", "watch[0].date_source"], []),
    ({"settle_seconds": "5s"}, ["settle_seconds", "watch[0].settle_seconds"], []),
    ({"timezone": "UTC"}, ["timezone"], []),
    ({"scan_interval": "10m"}, ["scan_interval"], []),
    ({"max_file_size": "1GiB"}, ["max_file_size"], []),
    ({"retry_initial_delay": "1s"}, ["retry_initial_delay"], []),
    ({"retry_max_delay": "1h"}, ["retry_max_delay"], []),
    ({"max_bandwidth": ["08:00-19:00 5MB/s", "20MB/s"]}, ["max_bandwidth"], []),
    ({"http": {}}, [], ["http"]),
])
def test_reload_plan_for_top_level_keys(tmp_path: Path, change: dict[str, Any],
                                        live: list[str], restart: list[str]) -> None:
    old = _parse(_doc(tmp_path), tmp_path)
    new = _parse({**_doc(tmp_path), **change}, tmp_path)
    plan = reload_plan(old, new)
    assert (list(plan.live), list(plan.restart)) == (live, restart)
    assert (old.restart_settings != new.restart_settings) == bool(restart)
    assert not reload_plan(new, new)


def test_reload_plan_for_sections_and_folders(tmp_path: Path) -> None:
    base = _doc(tmp_path)
    old = _parse(base, tmp_path)
    bucket = {**base, "oss": {**base["oss"], "bucket": "other-bucket", "read_timeout": "2m"}}
    assert reload_plan(old, _parse(bucket, tmp_path)).restart == ("oss.bucket",
                                                                   "oss.read_timeout")
    folder = {**base, "watch": [{**base["watch"][0], "strip_metadata": "location",
                                 "poll_interval": "10s"}]}
    plan = reload_plan(old, _parse(folder, tmp_path))
    assert plan.live == ("watch[0].strip_metadata", "watch[0].poll_interval")  # sample order
    assert not plan.restart
    (tmp_path / "more").mkdir()
    more = {**base, "watch": [*base["watch"], {"path": str(tmp_path / "more")}]}
    assert reload_plan(old, _parse(more, tmp_path)).live == ("watch",)
    s3 = _parse(_doc(tmp_path, "s3"), tmp_path)
    assert reload_plan(old, s3).restart == ("oss", "s3")
    with_http = _parse({**base, "http": {}}, tmp_path)
    faster = _parse({**base, "http": {"rate_limit": 50}}, tmp_path)
    assert reload_plan(with_http, faster).restart == ("http.rate_limit",)


def test_reload_plan_sees_a_new_secret_without_keeping_it(tmp_path: Path) -> None:
    base = _doc(tmp_path)
    old = _parse({**base, "oss": {**base["oss"], "access_key_id": "AKID",
                                  "access_key_secret": "first-secret-value"}}, tmp_path)
    new = _parse({**base, "oss": {**base["oss"], "access_key_id": "AKID",
                                  "access_key_secret": "second-secret-value"}}, tmp_path)
    assert reload_plan(old, new).restart == ("oss.access_key_secret",)
    kept = repr(dict(new.settings)) + repr(new.restart_settings)
    assert "second-secret-value" not in kept and "first-secret-value" not in kept
