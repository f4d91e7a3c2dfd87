"""`replicas:` in the config: each replica's section is read as the primary's, its keys
resolve as the primary's do, its key templates default to each folder's, and a folder
may name only replicas that exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ossync.config import parse_config
from ossync.config.stores import LocalConfig, OssConfig, S3Config
from ossync.core.errors import ConfigError
from tests.config_docs import base_doc

from .conftest import ACCESS_KEY_ID, SECRET

ENV = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET,
       "AWS_ACCESS_KEY_ID": "AKIAOSSYNCTEST", "AWS_SECRET_ACCESS_KEY": SECRET}


def _doc(tmp_path: Path, **replica: Any) -> dict[str, Any]:
    doc = base_doc(tmp_path, "oss")
    (tmp_path / "nas").mkdir(exist_ok=True)
    doc["replicas"] = [{"name": "nas", "local": {"path": str(tmp_path / "nas")}},
                       {"name": "copy", **replica} if replica else
                       {"name": "copy", "oss": {"endpoint": "https://oss-cn-shanghai"
                                                ".aliyuncs.com", "bucket": "my-copy"}}]
    return doc


def _problems(doc: dict[str, Any], tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(doc, base=tmp_path, env=ENV)
    return list(caught.value.problems)


def test_replicas_are_read_with_their_sections_and_every_folder_copies_to_all(
        tmp_path: Path) -> None:
    config = parse_config(_doc(tmp_path), base=tmp_path, env=ENV)
    nas, copy = config.replicas
    assert isinstance(nas.target, LocalConfig) and nas.bucket == str(tmp_path / "nas")
    assert isinstance(copy.target, OssConfig) and copy.bucket == "my-copy"
    assert config.watch[0].replicas == ("nas", "copy")
    assert (nas.prefix, nas.key_name) == (None, None)  # each folder's templates


def test_a_replica_on_the_primarys_kind_takes_its_keys_unless_it_names_its_own(
        tmp_path: Path) -> None:
    config = parse_config(_doc(tmp_path), base=tmp_path, env=ENV)
    copy = config.replicas[1]
    assert copy.credentials == config.credentials
    assert copy.credentials is not None and copy.credentials.access_key_id == ACCESS_KEY_ID
    own = _doc(tmp_path, s3={"endpoint": "https://s3.eu-west-1.amazonaws.com",
                             "bucket": "my-backup"})
    s3 = parse_config(own, base=tmp_path, env=ENV).replicas[1]
    assert isinstance(s3.target, S3Config)
    assert s3.credentials is not None and s3.credentials.access_key_id == "AKIAOSSYNCTEST"


def test_a_folder_may_opt_out_and_an_unknown_replica_name_is_an_error(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    doc["watch"][0]["replicas"] = ["nas"]
    assert parse_config(doc, base=tmp_path, env=ENV).watch[0].replicas == ("nas",)
    doc["watch"][0]["replicas"] = []
    assert parse_config(doc, base=tmp_path, env=ENV).watch[0].replicas == ()
    doc["watch"][0]["replicas"] = ["nas", "tape"]
    assert _problems(doc, tmp_path) == [
        "watch[0].replicas: 'tape' is not a replica (replicas: nas, copy)"]


def test_replica_names_and_places_must_differ(tmp_path: Path) -> None:
    doc = _doc(tmp_path, oss={"endpoint": "https://oss-cn-hangzhou.aliyuncs.com",
                              "bucket": "my-bucket"})
    doc["replicas"].append({"name": "nas", "local": {"path": str(tmp_path / "nas")}})
    problems = "\n".join(_problems(doc, tmp_path))
    assert "replicas[1].oss: the same bucket as the primary's" in problems
    assert "the name 'nas' is used twice" in problems
    assert "replicas[2].local: the same folder as replica 'nas''s" in problems


def test_a_replicas_own_templates_are_checked_with_each_folders_label(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    doc["replicas"][0]["prefix"] = "{folder}/"  # the folder's label makes it valid
    config = parse_config(doc, base=tmp_path, env=ENV)
    assert config.replicas[0].prefix == "{folder}/"
    doc["replicas"][0]["prefix"] = "/{folder}/"
    assert any(p.startswith("replicas[0].prefix: no file could get an object key")
               for p in _problems(doc, tmp_path))
