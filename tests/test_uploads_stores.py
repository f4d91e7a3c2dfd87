"""Direct uploads through each store apps can POST to: an `s3:` target gives SigV4 POST
forms (no callback: the app confirms), an `oss:` target signing V1 gives V1 forms; each
posted as `wx.uploadFile` posts it to the strict local endpoint and recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ossync.localoss import LocalOSS
from tests.conftest import ACCESS_KEY_ID, BUCKET, REGION, SECRET
from tests.direct_helpers import ask, done, photo, upload_daemon, wx_upload

JPEG = "image/jpeg"


@pytest.fixture
def s3_config(tmp_path: Path, local_oss: LocalOSS, drop: Path,
              monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)

    def make(**top: Any) -> Path:
        doc = {"s3": {"endpoint": local_oss.endpoint, "region": REGION, "bucket": BUCKET},
               "ledger": str(tmp_path / "ledger.db"), "settle_seconds": 0.3,
               "watch": [{"path": str(drop), "label": "drop"}], **top}
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        return path

    return make


def _round_trip(running: Any, local_oss: LocalOSS, data: bytes) -> dict[str, Any]:
    upload = ask(running, [{"name": "p.jpg", "size": len(data), "type": JPEG}]
                 ).json()["uploads"][0]
    sent = wx_upload(upload, data)
    assert sent.status_code == 200, sent.text
    row = done(running, upload["id"]).json()
    assert row["key"] == upload["key"] and row["state"] == "uploaded"
    found = local_oss.app.buckets[BUCKET].open(upload["key"])
    assert found is not None
    with found[1] as fh:
        assert fh.read() == data
    return upload


def test_an_s3_target_gives_sigv4_forms(s3_config: Callable[..., Path], tmp_path: Path,
                                        local_oss: LocalOSS) -> None:
    with upload_daemon(s3_config, tmp_path) as running:
        upload = _round_trip(running, local_oss, photo(11))
        assert upload["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
        assert "callback" not in upload["fields"]


def test_an_oss_target_signing_v1_gives_v1_forms(make_config: Callable[..., Path],
                                                  tmp_path: Path, local_oss: LocalOSS
                                                  ) -> None:
    def make(**top: Any) -> Path:
        path = make_config(**top)
        doc = yaml.safe_load(path.read_text())
        doc["oss"]["signature_version"] = 1
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        return path

    with upload_daemon(make, tmp_path) as running:
        upload = _round_trip(running, local_oss, photo(12))
        assert "OSSAccessKeyId" in upload["fields"] and "Signature" in upload["fields"]
