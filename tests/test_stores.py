"""The registry is the one map from a config's target section to its target: every section
has exactly one entry, and each entry hands the section's fields to the target, names it
for `check-config`, and signs URLs only where the store can."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from ossync.config import Config, parse_config
from ossync.config import stores as sections
from ossync.config.settings import TARGETS
from ossync.stores import STORES, describe_target, make_target, store_of, url_signer
from ossync.targets.local import LocalTarget
from ossync.targets.oss.presign import UrlSigner
from ossync.targets.oss.target import OssTarget
from ossync.targets.s3.target import S3Target

from .conftest import ACCESS_KEY_ID, SECRET

ENV = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET,
       "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}


def _config(tmp_path: Path, target: str, **section: Any) -> Config:
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    doc: dict[str, Any] = {"ledger": "ledger.db", "watch": [{"path": str(drop)}]}
    if target == "local":
        (tmp_path / "store").mkdir(exist_ok=True)
        doc["local"] = {"path": str(tmp_path / "store"), **section}
    else:
        host = "oss-cn-hangzhou.aliyuncs.com" if target == "oss" else "s3.eu-west-1.amazonaws.com"
        doc[target] = {"endpoint": f"https://{host}", "bucket": "my-bucket", **section}
    return parse_config(doc, base=tmp_path, env=ENV)


def test_every_target_section_has_one_entry() -> None:
    assert [s.name for s in STORES] == list(TARGETS)
    kinds = {c for c in vars(sections).values()
             if dataclasses.is_dataclass(c) and c.__module__ == sections.__name__}
    assert {s.section for s in STORES} == kinds


@pytest.mark.parametrize("target, kind, line", [
    ("oss", OssTarget, "oss bucket my-bucket in cn-hangzhou at https://oss-cn-hangzhou"
                       ".aliyuncs.com (signature V1, custom domain)"),
    ("s3", S3Target, "s3 bucket my-bucket in eu-west-1 at https://s3.eu-west-1.amazonaws.com "
                     "(path-style, SigV4 PUT)"),
])
def test_a_store_gets_its_sections_fields(tmp_path: Path, target: str, kind: type,
                                          line: str) -> None:
    extra = {"signature_version": 1, "cname": True} if target == "oss" else {
        "addressing": "path", "method": "put"}
    config = _config(tmp_path, target, public_url="https://cdn.example.com", **extra)
    made = make_target(config, pool_size=3)
    try:
        assert isinstance(made, kind) and made.bucket == "my-bucket"
        assert made.url_for("a b.jpg") == "https://cdn.example.com/a%20b.jpg"
        assert made.credentials.access_key_id == ACCESS_KEY_ID
        assert made.session.get_adapter("https://x")._pool_maxsize == 3  # type: ignore[attr-defined]
    finally:
        made.close()
    assert describe_target(config) == line
    assert store_of(config).name == target


def test_a_folder_and_its_urls(tmp_path: Path) -> None:
    config = _config(tmp_path, "local", base_url="https://files.example.com/")
    made = make_target(config)
    assert isinstance(made, LocalTarget) and made.root == tmp_path / "store"
    assert made.url_for("a.jpg") == "https://files.example.com/a.jpg"
    assert describe_target(config) == (f"local folder {tmp_path / 'store'} "
                                       "(URLs https://files.example.com)")


def test_only_oss_signs_urls(tmp_path: Path) -> None:
    signer = url_signer(_config(tmp_path, "oss", url_expires="2h"))
    assert isinstance(signer, UrlSigner) and signer.expires == 7200.0
    assert signer.credentials.access_key_id == ACCESS_KEY_ID
    assert signer.endpoint == "https://oss-cn-hangzhou.aliyuncs.com"
    for target in ("s3", "local"):
        with pytest.raises(ValueError, match=f"made for oss: targets only, not {target}:"):
            url_signer(_config(tmp_path, target))
