"""Whatever a key is set to — any YAML type, numbers around its bounds, nan and infinity,
5000-digit numbers, durations like `1e309s`, control characters — `parse_config` returns
a Config or raises ConfigError whose every problem names the key; never anything else.
The same for arbitrary documents in place of whole sections."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ossync.config import Config, parse_config
from ossync.config.key import Key
from ossync.config.schema import KEYS, names
from ossync.core.errors import ConfigError
from tests.config_docs import base_doc

from .conftest import ACCESS_KEY_ID, SECRET

ENV = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET,
       "AWS_ACCESS_KEY_ID": "AKIAOSSYNCTEST", "AWS_SECRET_ACCESS_KEY": SECRET}
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
UNITS = {"duration": ["", "ms", "s", "m", "h", "d", "w"],
         "size": ["", "B", "KB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "TiB"],
         "rate": ["B/s", "kB/s", "MB/s", "MiB/s", "GB/s", "Mbit/s", "Gbps"]}
CREATES = ("create",)  # never generated: a made-up path must not be created (we run as root)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for every example: relative paths land here, and nothing is created."""
    return tmp_path_factory.mktemp("config-properties")


def _doc(base: Path, target: str = "oss") -> dict[str, Any]:
    return base_doc(base, target)


def _check(base: Path, doc: Any, *needles: str) -> Config | None:
    """Parse; a ConfigError must name one of `needles` in every problem."""
    try:
        return parse_config(doc, base=base, env=ENV)
    except ConfigError as exc:
        for problem in exc.problems:
            assert any(n in problem for n in needles), (needles, problem)
            assert "\n" not in problem and len(problem) < 600, problem
        return None


# --- values ---------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), _TEXT,
    st.sampled_from(["", " ", "off", "auto", "yes", "${UNSET_VARIABLE}", "\x00", "\x1b[31m",
                     "../..", "/", "~", "0", "-0", "nan", "inf", "-inf", "1e309", "٣"]),
    st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n),
    st.sampled_from([400, -400, 5000]).map(lambda n: 10**n if n > 0 else -(10**-n)),
)
_ANY = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)), max_leaves=12)


def _around(key: Key) -> st.SearchStrategy[Any]:
    """Numbers near the key's bounds, with and without units, and some far away."""
    low, high = key.low or 0.0, key.high or 0.0
    near = st.sampled_from([low, high, low - 1, high + 1, low / 2, high * 2, 0, -1,
                            math.nextafter(low, -math.inf), math.nextafter(high, math.inf)])
    numbers = st.one_of(near, st.floats(allow_nan=True, allow_infinity=True),
                        st.integers(min_value=-(10**20), max_value=10**20))
    units = UNITS.get(key.kind, [""])
    spelled = st.builds(lambda n, u: f"{n}{u}", numbers, st.sampled_from(units))
    odd = st.sampled_from(["0s", "-1m", "1e309s", "1e400s", "5 minutes", "08:00-19:00 5MB/s",
                           "25:00-26:00 1MB/s", "00:00-00:00 1MB/s", "auto", "off", "1.5.5s"])
    schedules = st.lists(st.one_of(spelled, odd), max_size=3)
    return st.one_of(numbers, spelled, odd, schedules)


def _values(key: Key) -> st.SearchStrategy[Any]:
    if key.numeric:
        return st.one_of(_around(key), _ANY)
    if key.kind == "choice":
        return st.one_of(st.sampled_from(key.choices), _ANY)
    return _ANY


def _section_doc(section: str) -> st.SearchStrategy[Any]:
    """Mappings using the section's own key names (and others), any values."""
    known = sorted(names(section) - set(CREATES))
    keys = st.one_of(st.sampled_from(known), _TEXT.filter(lambda k: k not in CREATES))
    mapping = st.dictionaries(keys, _ANY, max_size=8)
    return st.one_of(mapping, _ANY)


# --- the properties -------------------------------------------------------------------


def _base_for(base: Path, key: Key) -> dict[str, Any]:
    return _doc(base, key.section if key.section not in ("", "watch") else "oss")


def _set(doc: dict[str, Any], key: Key, value: Any) -> None:
    section = doc if key.section == "" else doc[key.section][0] \
        if key.section in ("watch", "webhooks", "replicas") else doc[key.section]
    section[key.name] = value


@pytest.mark.parametrize("key", [k for k in KEYS if k.kind not in ("section", "list")],
                         ids=lambda k: k.path)
def test_any_value_of_a_key_is_a_config_or_problems_naming_it(base: Path, key: Key) -> None:
    where = key.path.replace("watch[]", "watch[0]").replace("webhooks[]", "webhooks[0]") \
        .replace("replicas[]", "replicas[0]")

    @SETTINGS
    @given(_values(key))
    def run(value: Any) -> None:
        doc = _base_for(base, key)
        _set(doc, key, value)
        _check(base, doc, where)

    run()


@pytest.mark.parametrize("section", ["oss", "s3", "local", "http"])
def test_any_document_as_a_section(base: Path, section: str) -> None:
    target = "oss" if section == "http" else section

    @settings(SETTINGS, max_examples=120)
    @given(_section_doc(section))
    def run(value: Any) -> None:
        if isinstance(value, dict) and section == "local":
            value.setdefault("path", str(base / "store"))
        doc = _doc(base, target)
        doc[section] = value
        _check(base, doc, section)

    run()


def test_any_list_of_watch_folders(base: Path) -> None:
    folder = st.one_of(_section_doc("watch"), st.builds(
        lambda extra: {"path": str(base / "drop"), **extra}, _section_doc("watch").filter(
            lambda v: isinstance(v, dict)) | st.just({})))

    @settings(SETTINGS, max_examples=120)
    @given(st.one_of(st.lists(folder, max_size=3), _ANY))
    def run(value: Any) -> None:
        doc = _doc(base, "oss")
        doc["watch"] = value
        _check(base, doc, "watch")

    run()


def test_any_list_of_replicas(base: Path) -> None:
    """Any entries, any sections in them (never one that creates a folder)."""
    def tame(entry: Any) -> Any:
        if isinstance(entry, dict) and isinstance(entry.get("local"), dict):
            entry["local"].pop("create", None)
        return entry

    replica = st.one_of(_section_doc("replicas"), st.builds(
        lambda extra, kind, section: {"name": "nas", kind: section, **extra},
        _section_doc("replicas").filter(lambda v: isinstance(v, dict)) | st.just({}),
        st.sampled_from(["oss", "s3", "local"]), _section_doc("oss"))).map(tame)

    @settings(SETTINGS, max_examples=120)
    @given(st.one_of(st.lists(replica, max_size=3), _ANY))
    def run(value: Any) -> None:
        doc = _doc(base, "oss")
        doc["replicas"] = value
        _check(base, doc, "replicas")

    run()


def test_any_whole_document(base: Path) -> None:
    top = st.dictionaries(st.one_of(st.sampled_from(sorted(names(""))), _TEXT), _ANY,
                          max_size=10)

    @settings(SETTINGS, max_examples=120)
    @given(st.one_of(top, _ANY))
    def run(value: Any) -> None:
        if isinstance(value, dict) and isinstance(value.get("watch"), list):
            value["watch"] = [w for w in value["watch"]
                              if not (isinstance(w, dict) and "create" in w)]
        for name in ("local",):
            if isinstance(value, dict) and isinstance(value.get(name), dict):
                value[name].pop("create", None)
        _check(base, value, "")  # any problem at all, but only ConfigError

    run()
