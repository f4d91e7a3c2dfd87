"""Key templates: valid OSS keys, a content part, safe against odd names."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ossync.core.keys import MAX_KEY_BYTES, KeyInputs, check_key, render_key, template_problem
from ossync.core.units import format_duration, parse_duration, parse_size

WHEN = datetime(2026, 11, 25, 8, 30, tzinfo=timezone.utc)
SHA = "3fa2b1c9" + "0" * 56


def _inputs(relpath: str, ext: str = ".jpg") -> KeyInputs:
    return KeyInputs(relpath=relpath, sha256=SHA, ext=ext, when=WHEN, host="box", folder="cam1")


def test_default_shape() -> None:
    key = render_key("images/{date:%Y/%m/%d}/", "{stem}-{sha8}{ext}", _inputs("DSC_0001.JPG"))
    assert key == "images/2026/11/25/DSC_0001-3fa2b1c9.jpg"


def test_relpath_and_reldir() -> None:
    inputs = _inputs("a/b/photo one.jpeg", ".jpeg")
    assert render_key("{folder}/{reldir}", "{stem}{ext}", inputs) == "cam1/a/b/photo one.jpeg"
    assert render_key("x/", "{relpath}", inputs) == "x/a/b/photo one.jpeg"


def test_dot_dot_segments_never_reach_the_key() -> None:
    key = render_key("p/", "{relpath}", _inputs("../../etc/./passwd.jpg"))
    assert key == "p/etc/passwd.jpg"


def test_control_characters_are_replaced() -> None:
    key = render_key("p/", "{stem}{ext}", _inputs("bad\nname\t.jpg"))
    assert "\n" not in key and "\t" not in key


def test_long_names_are_shortened_in_the_stem_keeping_hash_and_ext() -> None:
    key = render_key("p/", "{stem}-{sha8}{ext}", _inputs("图" * 600 + ".jpg"))
    assert len(key.encode()) <= MAX_KEY_BYTES
    assert key.endswith("-3fa2b1c9.jpg")


def test_template_problems() -> None:
    assert template_problem("{stem}{ext}") is None
    assert "unknown field" in (template_problem("{nope}") or "")
    assert "only {date}" in (template_problem("{stem:>10}") or "")
    assert template_problem("{stem") is not None


@pytest.mark.parametrize("bad", ["", "/abs", "a/../b", "x" * 1024, "a\x01b"])
def test_check_key_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        check_key(bad)


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), (90, 90), ("2h", 7200),
                                               ("7d", 604800), ("1.5s", 1.5), ("250ms", 0.25)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration_and_format() -> None:
    with pytest.raises(ValueError):
        parse_duration("soon")
    assert format_duration(900) == "15m"
    assert format_duration(90) == "90s"


@pytest.mark.parametrize(("text", "size"), [("20MB", 20_000_000), ("5GiB", 5 * 1024**3),
                                            (1024, 1024), ("512k", 512_000)])
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size
