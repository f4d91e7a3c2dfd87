"""Strict config: unknown keys stop the start (with a suggestion) unless `unknown_keys:
warn`; every number has bounds (refused below and above, taken at them); every relation
between keys is checked; a wrong type is one line naming the key and what it must be."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ossync.config import Config, parse_config
from ossync.config.checks import shown
from ossync.config.key import Key
from ossync.config.schema import KEYS, spec
from ossync.core.errors import ConfigError
from tests.config_docs import base_doc

from .conftest import ACCESS_KEY_ID, SECRET

ENV = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET,
       "AWS_ACCESS_KEY_ID": "AKIAOSSYNCTEST", "AWS_SECRET_ACCESS_KEY": SECRET}
NUMBERS = [key for key in KEYS if key.numeric]
# Keys whose bounds meet another key's: what the other is set to while one is at a bound.
COMPANIONS: dict[str, dict[str, Any]] = {
    "part_size": {"multipart_threshold": "5GiB"},
    "retry_initial_delay": {"retry_max_delay": "1d"},
    "retry_max_delay": {"retry_initial_delay": 0.1},
}


def _doc(tmp_path: Path, target: str = "oss") -> dict[str, Any]:
    return base_doc(tmp_path, target)


def _with(tmp_path: Path, key: Key, value: Any) -> dict[str, Any]:
    """The base document for `key`'s section with `key` set to `value`."""
    doc = _doc(tmp_path, key.section if key.section not in ("", "watch") else "oss")
    doc.update(COMPANIONS.get(key.path, {}))
    section = doc if key.section == "" else doc[key.section][0] \
        if key.section in ("watch", "webhooks", "replicas") else doc[key.section]
    section[key.name] = value
    return doc


def _parse(doc: Any, tmp_path: Path) -> Config:
    return parse_config(doc, base=tmp_path, env=ENV)


def _problems(doc: Any, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        _parse(doc, tmp_path)
    return info.value.problems


def _where(key: Key) -> str:
    return key.path.replace("watch[]", "watch[0]").replace("webhooks[]", "webhooks[0]") \
        .replace("replicas[]", "replicas[0]")


# --- unknown keys ----------------------------------------------------------------------


def test_an_unknown_key_stops_the_start_with_a_suggestion(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    doc["watch"][0]["strip_metdata"] = "location"
    assert _problems(doc, tmp_path) == [
        "watch[0].strip_metdata: unknown key; did you mean strip_metadata?"]


@pytest.mark.parametrize(("section", "key", "expected"), [
    ("", "scan_intervall", "scan_intervall: unknown key; did you mean scan_interval?"),
    ("", "strip_metadata", "strip_metadata: unknown key; strip_metadata belongs in each "
                           "watch: folder"),
    ("", "bucket", "bucket: unknown key; bucket belongs under oss:"),
    ("", "colour", "colour: unknown key"),
    ("oss", "bukcet", "oss.bukcet: unknown key; did you mean bucket?"),
    ("oss", "instance_role", "oss.instance_role: unknown key; instance_role belongs under s3:"),
    ("http", "rate_limt", "http.rate_limt: unknown key; did you mean rate_limit?"),
    ("s3", "adressing", "s3.adressing: unknown key; did you mean addressing?"),
    ("local", "base_ulr", "local.base_ulr: unknown key; did you mean base_url?"),
])
def test_unknown_keys_in_every_section(tmp_path: Path, section: str, key: str,
                                       expected: str) -> None:
    doc = _doc(tmp_path, section or "oss")
    (doc[section] if section else doc)[key] = 1
    assert expected in _problems(doc, tmp_path)


def test_unknown_keys_warn_turns_them_into_warnings(tmp_path: Path) -> None:
    doc = {**_doc(tmp_path), "unknown_keys": "warn", "strip_metdata": "location"}
    doc["oss"]["future_key"] = True
    config = _parse(doc, tmp_path)
    assert config.unknown_keys == "warn"
    assert config.warnings == (
        "strip_metdata: unknown key, ignored; did you mean strip_metadata (in each watch: "
        "folder)?", "oss.future_key: unknown key, ignored")
    assert "unknown_keys: must be one of error, warn, not 'ignore'" in _problems(
        {**_doc(tmp_path), "unknown_keys": "ignore"}, tmp_path)


def test_a_key_that_is_no_name(tmp_path: Path) -> None:
    doc: dict[Any, Any] = {**_doc(tmp_path), 1: "x", None: "y"}
    problems = _problems(doc, tmp_path)
    assert "1: unknown key; a key must be a name (quote it)" in problems
    assert "nothing: unknown key; a key must be a name (quote it)" in problems


# --- bounds ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", NUMBERS, ids=lambda k: k.path)
def test_every_number_is_taken_at_its_bounds(tmp_path: Path, key: Key) -> None:
    assert key.low is not None and key.high is not None
    for value in (key.low, key.high):
        _parse(_with(tmp_path, key, value), tmp_path)


@pytest.mark.parametrize("key", NUMBERS, ids=lambda k: k.path)
def test_every_number_is_refused_below_and_above(tmp_path: Path, key: Key) -> None:
    assert key.low is not None and key.high is not None
    above = key.high * 2 if key.kind in ("whole", "size") else key.high * 1.5
    [problem] = _problems(_with(tmp_path, key, above), tmp_path)
    assert problem.startswith(f"{_where(key)}: must be ")
    assert f"at most {key.show(key.high)}" in problem, problem
    if key.low > 0:
        below = key.low // 2 if key.kind in ("whole", "size") else key.low / 2
        [problem] = _problems(_with(tmp_path, key, below), tmp_path)
        assert f"at least {key.show(key.low)}" in problem, problem
    [problem] = _problems(_with(tmp_path, key, -1), tmp_path)
    assert problem.startswith(f"{_where(key)}: "), problem


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("workers", 0, "workers: must be a whole number of at least 1, not 0"),
    ("workers", 65, "workers: must be a whole number of at most 64, not 65"),
    ("workers", 4.5, "workers: must be a whole number, not 4.5"),
    ("scan_interval", 0, "scan_interval: must be a duration of at least 5s, not 0s"),
    ("scan_interval", "2d", "scan_interval: must be a duration of at most 1d, not 2d"),
    ("retry_initial_delay", "0s",
     "retry_initial_delay: must be a duration of at least 0.1s, not 0s"),
    ("settle_seconds", -1, "settle_seconds: a duration cannot be negative"),
    ("watch[].poll_interval", 0, "watch[0].poll_interval: must be a duration of at least "
                                 "0.5s, not 0s"),
    ("oss.connect_timeout", 0, "oss.connect_timeout: must be a duration of at least 0.5s, "
                               "not 0s"),
    ("oss.url_expires", "8d", "oss.url_expires: must be at least 1s and at most 7d (the "
                              "longest OSS accepts for a signed URL), not 8d"),
    ("oss.policy_expires", "10s", "oss.policy_expires: must be at least 1m and at most 7d"),
    ("http.rate_limit", -1, "http.rate_limit: must be a number of at least 0, not -1"),
    ("http.rate_burst", 0, "http.rate_burst: must be a whole number of at least 1, not 0"),
    ("multipart_threshold", "100KB", "multipart_threshold: must be a size of at least 1MiB, "
                                     "not 100kB"),
    ("max_bandwidth", "1kB/s", "max_bandwidth: must be a rate of at least 10 kB/s, not 1 kB/s"),
    ("max_bandwidth", ["00:00-06:00 1TB/s"], "max_bandwidth: must be a rate of at most "
                                             "100 GB/s, not 1000 GB/s"),
])
def test_bound_problems_read_well(tmp_path: Path, key: str, value: Any, expected: str) -> None:
    problems = _problems(_with(tmp_path, spec(key), value), tmp_path)
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize("value", [
    "1e400s", "9" * 5000, 10**5000, float("nan"), float("inf"), -float("inf"), "-1m",
    "nan", "inf", "1e309s", 1e308, True, [1], {"a": 1}, "", " ", "5 minutes",
], ids=shown)
def test_numbers_that_overflow_or_are_no_numbers_are_one_line(tmp_path: Path,
                                                              value: Any) -> None:
    for path in ("scan_interval", "max_file_size", "workers", "http.rate_limit",
                 "max_bandwidth", "part_size"):
        problems = _problems(_with(tmp_path, spec(path), value), tmp_path)
        assert len(problems) == 1 and problems[0].startswith(f"{path}: "), problems
        assert len(problems[0]) < 200 and "\n" not in problems[0]


# --- types -----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("watch[].recursive", "yes", "watch[0].recursive: must be true or false, not 'yes'"),
    ("oss.cname", 1, "oss.cname: must be true or false, not 1"),
    ("oss.bucket", 123, 'oss.bucket: must be text, not the number 123 (quote it: "123")'),
    ("watch[].label", ["a"], "watch[0].label: must be text, not a list"),
    ("watch[].include", 5, "watch[0].include: must be a list of glob patterns, not 5"),
    ("watch[].path", {"a": 1}, "watch[0].path: must be text, not a mapping"),
    ("ledger", 12, 'ledger: must be text, not the number 12 (quote it: "12")'),
    ("timezone", "Mars/Olympus", "timezone: unknown time zone 'Mars/Olympus'"),
    ("host", "bad host", "host: must be a name of letters"),
    ("oss.endpoint", "ftp://x", "oss.endpoint: 'ftp://x' is not an http(s) URL"),
    ("watch[].dedupe", "maybe", "watch[0].dedupe: must be one of content, path, off, "
                                "not 'maybe'"),
    ("oss.region", "cn\nhangzhou", "oss.region: must not contain control characters"),
])
def test_a_wrong_type_is_one_line_naming_the_key(tmp_path: Path, path: str, value: Any,
                                                 expected: str) -> None:
    problems = _problems(_with(tmp_path, spec(path), value), tmp_path)
    assert any(p.startswith(expected) for p in problems), problems


def test_off_is_off_even_where_yaml_reads_false(tmp_path: Path) -> None:
    config = _parse(_with(tmp_path, spec("watch[].dedupe"), False), tmp_path)
    assert config.watch[0].dedupe == "off"
    assert _parse(_with(tmp_path, spec("max_bandwidth"), False), tmp_path).max_bandwidth is None


def test_a_secret_is_never_shown(tmp_path: Path) -> None:
    problems = _problems(_with(tmp_path, spec("oss.access_key_secret"), "s3cr3t\x07bell"),
                         tmp_path)
    assert problems == ["oss.access_key_secret: must be text without control characters "
                        "(the value is not shown)"]


# --- relations -------------------------------------------------------------------------


def test_retry_max_delay_is_at_least_the_first_delay(tmp_path: Path) -> None:
    doc = {**_doc(tmp_path), "retry_initial_delay": "5m", "retry_max_delay": "1m"}
    assert _problems(doc, tmp_path) == ["retry_max_delay: 1m is shorter than "
                                        "retry_initial_delay (5m); make it at least as long"]
    _parse({**doc, "retry_max_delay": "5m"}, tmp_path)


def test_part_size_against_threshold_and_store(tmp_path: Path) -> None:
    doc = {**_doc(tmp_path), "part_size": "128MiB"}
    assert _problems(doc, tmp_path) == [
        "part_size: 128MiB is more than multipart_threshold (64MiB), so files in between "
        "would go as one part; raise multipart_threshold or lower part_size"]
    _parse({**doc, "multipart_threshold": "128MiB"}, tmp_path)
    s3 = {**_doc(tmp_path, "s3"), "part_size": "1MiB"}
    assert _problems(s3, tmp_path) == [
        "part_size: S3 takes parts of 5MiB to 5GiB, not 1MiB (or leave it auto)"]
    assert _problems({**_doc(tmp_path, "s3"), "max_file_size": "6TiB"}, tmp_path) == [
        "max_file_size: S3 stores objects of at most 5TiB; set it no higher"]


@pytest.mark.parametrize(("target", "endpoint", "extra"), [
    ("oss", "https://my-bucket.oss-cn-hangzhou.aliyuncs.com", {}),
    ("s3", "https://my-bucket.s3.eu-west-1.amazonaws.com", {}),
])
def test_an_endpoint_that_names_the_bucket(tmp_path: Path, target: str, endpoint: str,
                                           extra: dict[str, Any]) -> None:
    doc = _doc(tmp_path, target)
    doc[target].update(endpoint=endpoint, **extra)
    [problem] = _problems(doc, tmp_path)
    rest = endpoint.replace("my-bucket.", "")
    assert problem == (f"{target}.endpoint: {endpoint.removeprefix('https://')} already "
                       f"names the bucket ({target}.bucket: my-bucket); give the region "
                       f"endpoint {rest} and the bucket separately")


def test_endpoints_that_do_not_name_the_bucket(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    doc["oss"].update(endpoint="https://my-bucket.example.com", cname=True, region="cn-hangzhou")
    _parse(doc, tmp_path)  # a custom domain bound to the bucket
    doc = _doc(tmp_path)
    doc["oss"].update(bucket="oss-cn-hangzhou")  # a bucket named like the region
    _parse(doc, tmp_path)
    doc = _doc(tmp_path, "s3")
    doc["s3"].update(endpoint="https://my-bucket.minio.lan", addressing="path")
    _parse(doc, tmp_path)


@pytest.mark.parametrize(("where", "keys", "reason"), [
    ("prefix", {"prefix": "/images/"}, "starts with a slash"),
    ("prefix", {"prefix": "a/../b/"}, "has a '.' or '..' segment"),
    ("name", {"name": "./{sha8}{ext}"}, "has a '.' or '..' segment"),
    ("prefix", {"prefix": "x" * 1100}, "object key is 1113 bytes; OSS allows 1 to 1023"),
    ("name", {"prefix": "", "name": ""}, "object key is 0 bytes"),
    ("watch[0].prefix", {"watch": {"prefix": "/cam/"}}, "starts with a slash"),
    ("watch[0].name", {"watch": {"name": "../{sha8}"}}, "has a '.' or '..' segment"),
])
def test_key_templates_that_can_only_make_refused_keys(tmp_path: Path, where: str,
                                                       keys: dict[str, Any],
                                                       reason: str) -> None:
    doc = _doc(tmp_path)
    doc["watch"][0].update(keys.pop("watch", {}))
    doc.update(keys)
    [problem] = _problems(doc, tmp_path)
    assert problem.startswith(f"{where}: no file could get an object key the store accepts")
    assert reason in problem


def test_key_templates_that_work_for_some_files_pass(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    doc["watch"][0].update(prefix="", name="{reldir}{stem}{ext}")
    _parse(doc, tmp_path)
    doc["watch"][0].update(prefix="{host}/{folder}/", name="{relpath}")
    _parse(doc, tmp_path)


def test_other_relations(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "s3")
    doc["s3"].update(endpoint="http://127.0.0.1:9000", addressing="virtual")
    assert any(p.startswith("s3.addressing: virtual needs a host name")
               for p in _problems(doc, tmp_path))
    doc = _doc(tmp_path)
    doc["watch"][0]["after_upload"] = "move"
    assert _problems(doc, tmp_path) == [
        "watch[0].move_to: required when watch[0].after_upload is move"]
    doc["watch"][0]["move_to"] = str(tmp_path / "drop" / "done")
    assert "inside the watched folder" in _problems(doc, tmp_path)[0]
    doc = _doc(tmp_path)
    doc["watch"].append(dict(doc["watch"][0]))
    assert _problems(doc, tmp_path) == ["watch: label 'drop' is used twice (set label: on "
                                        "each folder)"]
    doc = {**_doc(tmp_path), "local": {"path": str(tmp_path)}}
    assert _problems(doc, tmp_path) == ["oss, local: configure exactly one target (oss:, s3: "
                                        "or local:)"]
    doc = _doc(tmp_path, "http")
    doc["http"]["listen"] = "0.0.0.0:9469"
    assert any(p.startswith("http.listen: 0.0.0.0 is not a loopback address")
               for p in _problems(doc, tmp_path))


@pytest.mark.parametrize(("section", "value", "expected"), [
    ("oss", ["a"], "oss: must be a mapping with endpoint, region and bucket, not a list"),
    ("oss", "x", "oss: must be a mapping with endpoint, region and bucket, not 'x'"),
    ("s3", 5, "s3: must be a mapping with endpoint, region and bucket, not 5"),
    ("local", "here", "local: must be a mapping with path (the folder objects are copied "
                      "into), not 'here'"),
    ("http", [1], "http: must be a mapping (e.g. http: {listen: 127.0.0.1:9469}), "
                  "not a list"),
    ("watch", "x", "watch: must be a list of folders (- path: ...), not 'x'"),
])
def test_a_section_of_the_wrong_kind_is_one_line(tmp_path: Path, section: str, value: Any,
                                                  expected: str) -> None:
    doc = {k: v for k, v in _doc(tmp_path).items() if section in ("http", "watch")
           or k != "oss"}
    doc[section] = value
    assert _problems(doc, tmp_path) == [expected]
