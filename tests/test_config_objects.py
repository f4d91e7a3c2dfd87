"""The object options in the config: defaults at the top level, overridden per folder,
checked against what the configured store takes (check-config refuses the rest), and
what a `local:` target ignores said as a warning."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from ossync.cli.main import main
from ossync.config import Config, parse_config
from ossync.core.errors import ConfigError
from tests.test_config_checks import ENV, _doc


def _parse(doc: dict[str, Any], tmp_path: Path) -> Config:
    return parse_config(doc, base=tmp_path, env={**ENV, "PROJECT": "atlas"})


def _problems(doc: dict[str, Any], tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _parse(doc, tmp_path)
    return caught.value.problems


def test_defaults_send_nothing_but_the_record(tmp_path: Path) -> None:
    objects = _parse(_doc(tmp_path), tmp_path).watch[0].objects
    assert (objects.storage_class, objects.acl, objects.server_side_encryption) == (
        None, None, "none")
    assert objects.tags == () and objects.metadata == () and objects.object_record == "relative"


def test_a_folder_overrides_the_top_level_and_maps_are_replaced_whole(tmp_path: Path) -> None:
    doc = {**_doc(tmp_path), "storage_class": "ia", "tags": {"a": "1", "b": "{folder}"},
           "metadata": {"project": "${PROJECT}"}, "server_side_encryption": "KMS",
           "kms_key_id": "key-1", "cache_control": "max-age=60"}
    (tmp_path / "other").mkdir()
    doc["watch"].append({"path": str(tmp_path / "other"), "label": "other",
                         "storage_class": "Archive", "tags": {"c": "3"},
                         "object_record": "off", "server_side_encryption": "none"})
    config = _parse(doc, tmp_path)
    first, second = (w.objects for w in config.watch)
    assert first.storage_class == "IA" and second.storage_class == "Archive"  # OSS's spelling
    assert first.tags == (("a", "1"), ("b", "{folder}")) and second.tags == (("c", "3"),)
    assert first.metadata == second.metadata == (("project", "atlas"),)
    assert (first.server_side_encryption, first.kms_key_id) == ("KMS", "key-1")
    assert second.server_side_encryption == "none" and second.object_record == "off"
    assert second.cache_control == "max-age=60"
    assert config.objects.storage_class == "IA"


@pytest.mark.parametrize(("target", "change", "problem"), [
    ("oss", {"storage_class": "GLACIER"}, "storage_class: OSS does not take 'GLACIER' (it "
                                          "takes Standard, IA, Archive"),
    ("s3", {"storage_class": "IA"}, "storage_class: S3 does not take 'IA'"),
    ("s3", {"server_side_encryption": "SM4"}, "server_side_encryption: S3 does not take SM4"),
    ("oss", {"acl": "bucket-owner-read"}, "acl: OSS does not take 'bucket-owner-read'"),
    ("oss", {"server_side_encryption": "aws:kms"}, "server_side_encryption: must be one of "
                                                   "none, AES256, KMS, SM4"),
    ("oss", {"tags": {f"t{i}": "v" for i in range(11)}}, "tags: 11 tags; a store takes at "
                                                         "most 10"),
    ("oss", {"tags": {"a": "{colour}"}}, "tags.a: unknown field {colour}"),
    ("oss", {"tags": ["a"]}, "tags: must be a mapping of names to values"),
    ("oss", {"metadata": {"ossync-sha256": "x"}}, "metadata: 'ossync-sha256' is not a name"),
    ("oss", {"metadata": {"Project": "x"}}, "metadata: 'Project' is not a name"),
    ("s3", {"metadata": {"big": "v" * 1500}}, "metadata: 1503 bytes, and ossync's record "
                                              "needs about 700; the store takes 2048"),
    ("oss", {"content_disposition": "inline; filename=\"{nam}\""}, "content_disposition: "
                                                                   "unknown field {nam}"),
    ("oss", {"cache_control": "max-age=60 ☃"}, "cache_control: must be ASCII"),
])
def test_values_the_store_does_not_take_are_refused(tmp_path: Path, target: str,
                                                    change: dict[str, Any], problem: str) -> None:
    problems = _problems({**_doc(tmp_path, target), **change}, tmp_path)
    assert any(p.startswith(problem) for p in problems), problems


def test_a_folders_own_value_is_checked_under_its_path(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "s3")
    doc["watch"][0]["storage_class"] = "ColdArchive"
    assert any(p.startswith("watch[0].storage_class: S3 does not take 'ColdArchive'")
               for p in _problems(doc, tmp_path))


def test_a_local_target_says_what_it_ignores(tmp_path: Path) -> None:
    doc = {**_doc(tmp_path, "local"), "storage_class": "IA", "server_side_encryption": "KMS",
           "tags": {"a": "b"}}
    config = _parse(doc, tmp_path)
    assert "storage_class: a local: target ignores it (a folder has no storage classes, ACLs " \
           "or encryption)" in config.warnings
    assert any(w.startswith("server_side_encryption: a local: target ignores it")
               for w in config.warnings)
    assert config.watch[0].objects.tags == (("a", "b"),)  # tags and metadata are kept


def test_a_key_id_without_kms_is_a_warning(tmp_path: Path) -> None:
    config = _parse({**_doc(tmp_path), "kms_key_id": "k"}, tmp_path)
    assert "kms_key_id: ignored unless server_side_encryption is KMS" in config.warnings


def test_check_config_refuses_what_the_store_does_not_take(tmp_path: Path,
                                                           oss_env: dict[str, str]) -> None:
    doc = {**_doc(tmp_path, "s3"), "server_side_encryption": "SM4", "storage_class": "IA"}
    doc["s3"].update(access_key_id="AKIAOSSYNCTEST", secret_access_key="${OSS_ACCESS_KEY_SECRET}")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    out, err = io.StringIO(), io.StringIO()
    assert main(["check-config", "-c", str(path)], stdout=out, stderr=err) == 78
    assert "server_side_encryption: S3 does not take SM4" in err.getvalue()
    assert "storage_class: S3 does not take 'IA'" in err.getvalue()
