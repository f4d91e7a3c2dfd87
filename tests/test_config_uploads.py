"""`uploads:`: apps' direct uploads need the listener and a bucket, tokens of their own
(strong, private, never the listener's), types a browser shows rather than runs, key
templates of the app fields, a callback for OSS only, and the local endpoint's key only
with a loopback endpoint."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from ossync.cli.main import main
from ossync.config import Config, parse_config
from ossync.config.keys_uploads import DEFAULT_TYPES
from ossync.core.errors import ConfigError
from tests.config_docs import base_doc

from .conftest import ACCESS_KEY_ID, SECRET

ENV = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET,
       "AWS_ACCESS_KEY_ID": "AKIAOSSYNCTEST", "AWS_SECRET_ACCESS_KEY": SECRET}
LISTENER_TOKEN = "5be0c93f71a2d84e6c0f2a97b1d35e84"
UPLOAD_TOKENS = ("c4e19a7f03b2d86e5a1f9c0b7d3e28f4", "7a0d3f9e2c51b84e6f17a9d0c3b5e281")


def _doc(tmp_path: Path, target: str = "oss", **uploads: Any) -> dict[str, Any]:
    doc = base_doc(tmp_path, target)
    doc["http"] = {"require_token": "never"}
    doc["uploads"] = uploads
    return doc


def _parse(doc: dict[str, Any], tmp_path: Path) -> Config:
    return parse_config(doc, base=tmp_path, env=ENV)


def _problems(doc: dict[str, Any], tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        _parse(doc, tmp_path)
    return info.value.problems


def _file(tmp_path: Path, name: str, text: str, mode: int = 0o600) -> str:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def test_defaults(tmp_path: Path) -> None:
    uploads = _parse(_doc(tmp_path), tmp_path).uploads
    assert uploads is not None
    assert (uploads.folder, uploads.max_files, uploads.expires) == ("app", 9, 600.0)
    assert uploads.types == DEFAULT_TYPES and uploads.max_file_size == 50_000_000
    assert uploads.prefix == "app/{date:%Y/%m/%d}/" and uploads.name == "{stem}-{id}{ext}"
    assert uploads.callback_url is None and uploads.local_key_prefix is None
    assert uploads.tokens == ()
    assert _parse(base_doc(tmp_path), tmp_path).uploads is None


def test_it_needs_the_listener_and_a_bucket(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    del doc["http"]
    assert any(p.startswith("uploads: needs the http: listener") for p in
               _problems(doc, tmp_path))
    assert any("target is local:" in p for p in _problems(_doc(tmp_path, "local"), tmp_path))
    assert _parse(_doc(tmp_path, "s3"), tmp_path).uploads is not None


def test_tokens_of_their_own(tmp_path: Path) -> None:
    tokens = _file(tmp_path, "upload_tokens", "# phones\n" + "\n".join(UPLOAD_TOKENS) + "\n")
    uploads = _parse(_doc(tmp_path, token_file=tokens), tmp_path).uploads
    assert uploads is not None and uploads.tokens == UPLOAD_TOKENS
    assert uploads.token_source == tokens
    listener = _file(tmp_path, "http_token", LISTENER_TOKEN)
    doc = _doc(tmp_path)
    doc["http"] = {"token_file": listener}
    assert any(p.startswith("uploads.token_file: missing: the listener has a token")
               for p in _problems(doc, tmp_path))
    doc["uploads"]["token_file"] = _file(tmp_path, "both", f"{UPLOAD_TOKENS[0]}\n"
                                         f"{LISTENER_TOKEN}\n")
    assert any("holds the listener's own token" in p for p in _problems(doc, tmp_path))


@pytest.mark.parametrize(("text", "mode", "reason"), [
    (UPLOAD_TOKENS[0], 0o640, "can be read by its group"),
    (UPLOAD_TOKENS[0], 0o604, "can be read by anyone on this host"),
    ("short", 0o600, "token 1 must be at least 16 characters"),
    (f"{UPLOAD_TOKENS[0]}\nabcabcabcabcabcabcabcabc", 0o600, "token 2 is too easy to guess"),
    ("# only a comment\n\n", 0o600, "needs 1 to 100 tokens"),
])
def test_weak_or_shared_token_files_are_refused(tmp_path: Path, text: str, mode: int,
                                                reason: str) -> None:
    doc = _doc(tmp_path, token_file=_file(tmp_path, "tokens", text, mode))
    [problem] = _problems(doc, tmp_path)
    assert problem.startswith("uploads.token_file: ") and reason in problem
    assert UPLOAD_TOKENS[0] not in problem


@pytest.mark.parametrize(("types", "reason"), [
    (["image/svg+xml"], "a browser would run it"),
    (["text/html"], "a browser would run it"),
    (["image/jpeg", "jpeg"], "is not a content type like image/jpeg"),
    ([], "must be a list of 1 to 50 content types"),
    ("image/jpeg", "must be a list"),
])
def test_types_a_browser_shows(tmp_path: Path, types: Any, reason: str) -> None:
    [problem] = _problems(_doc(tmp_path, types=types), tmp_path)
    assert problem.startswith("uploads.types: ") and reason in problem


def test_types_are_read_in_lower_case(tmp_path: Path) -> None:
    uploads = _parse(_doc(tmp_path, types=["Image/JPEG", "video/mp4"]), tmp_path).uploads
    assert uploads is not None and uploads.types == ("image/jpeg", "video/mp4")


def test_templates_take_the_app_fields(tmp_path: Path) -> None:
    [problem] = _problems(_doc(tmp_path, name="{stem}-{sha8}{ext}"), tmp_path)
    assert problem.startswith("uploads.name: unknown field {sha8}")
    [problem] = _problems(_doc(tmp_path, name="../{id}"), tmp_path)
    assert problem.startswith("uploads.name: no upload could get an object key")
    uploads = _parse(_doc(tmp_path, prefix="{folder}/{host}/{date:%Y}/", name="{id}{ext}"),
                     tmp_path).uploads
    assert uploads is not None and uploads.name == "{id}{ext}"


def test_the_folder_is_not_a_watch_folders(tmp_path: Path) -> None:
    [problem] = _problems(_doc(tmp_path, folder="drop"), tmp_path)
    assert problem.startswith("uploads.folder: 'drop' is a watch folder's label too")


def test_a_callback_is_for_oss(tmp_path: Path) -> None:
    url = "https://uploads.example.com/v1/uploads/callback"
    uploads = _parse(_doc(tmp_path, callback_url=url), tmp_path).uploads
    assert uploads is not None and uploads.callback_url == url
    [problem] = _problems(_doc(tmp_path, "s3", callback_url=url), tmp_path)
    assert problem.startswith("uploads.callback_url: only OSS calls back")
    [problem] = _problems(_doc(tmp_path, callback_url="http://[::1]:9469/x"), tmp_path)
    assert "not IPv6" in problem


def test_the_local_endpoints_key_only_on_loopback(tmp_path: Path) -> None:
    [problem] = _problems(_doc(tmp_path, trust_local_endpoint=True), tmp_path)
    assert problem.startswith("uploads.trust_local_endpoint: for tests and the demo only")
    doc = _doc(tmp_path, trust_local_endpoint=True)
    doc["oss"].update(endpoint="http://127.0.0.1:9000", region="cn-hangzhou")
    uploads = _parse(doc, tmp_path).uploads
    assert uploads is not None and uploads.local_key_prefix == "http://127.0.0.1:9000/_localoss/"


def test_webhooks_may_name_the_uploads_folder(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    secret = _file(tmp_path, "webhook_secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    doc["webhooks"] = [{"url": "https://app.example.com/h", "secret_file": secret,
                        "folders": ["app"]}]
    assert not _parse(doc, tmp_path).warnings


def test_check_config_says_what_apps_may_ask_for(tmp_path: Path, oss_env: dict[str, str]
                                                ) -> None:
    doc = _doc(tmp_path, callback_url="https://up.example.com/v1/uploads/callback",
               token_file=_file(tmp_path, "tokens", "\n".join(UPLOAD_TOKENS)))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    path.chmod(0o600)
    out, err = io.StringIO(), io.StringIO()
    assert main(["check-config", "-c", str(path)], out, err) == 0, err.getvalue()
    line = next(x for x in out.getvalue().splitlines() if x.strip().startswith("uploads:"))
    assert "POST /v1/uploads with 2 token(s) from" in line and "up to 9 file(s)" in line
    assert "OSS calls back https://up.example.com/v1/uploads/callback" in line
    assert not any(t in out.getvalue() for t in UPLOAD_TOKENS)
