"""Key templates: valid OSS keys, a content part, safe against odd names."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ossync.core.keys import (
    APP_FIELDS,
    APP_NAME,
    APP_PREFIX,
    MAX_KEY_BYTES,
    AppKeyInputs,
    KeyInputs,
    app_stem,
    check_key,
    render_app_key,
    render_key,
    template_problem,
)
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


# --- app uploads: the client's name made safe, the upload's id as the content part -----

APP_WHEN = datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc)


def _app_key(name: str, prefix: str = APP_PREFIX, template: str = APP_NAME) -> str:
    return render_app_key(prefix, template, AppKeyInputs(name, ".jpg", "k2mx7qa4b9c3d5e6f8g2h4j6",
                                                         APP_WHEN, "studio-1", "app"))


@pytest.mark.parametrize(("name", "stem"), [
    ("IMG_0001.JPG", "IMG_0001"),
    ("../../x", "x"),
    ("..\\..\\evil.jpg", "evil"),
    ("a/b/../c.png", "c"),
    ("line\nbreak\x00.jpg", "line_break_"),
    ("\u202egpj.exe", "_gpj"),
    ("..", "file"),
    ("", "file"),
    ("微信图片_20260101.jpg", "微信图片_20260101"),
])
def test_app_stems_are_safe(name: str, stem: str) -> None:
    assert app_stem(name) == stem
    key = _app_key(name)
    assert key == f"app/2026/12/06/{stem}-k2mx7qa4b9c3d5e6f8g2h4j6.jpg"
    assert check_key(key) == key


def test_a_long_app_name_keeps_the_id_and_the_type() -> None:
    key = _app_key("é" * 2000 + ".png")
    assert key.endswith("-k2mx7qa4b9c3d5e6f8g2h4j6.jpg") and len(key) < 400
    long_prefix = "p" * 950 + "/"
    key = _app_key("a" * 90, prefix=long_prefix)
    assert len(key.encode()) <= MAX_KEY_BYTES and key.endswith("k2mx7qa4b9c3d5e6f8g2h4j6.jpg")


def test_app_templates_take_their_own_fields() -> None:
    assert template_problem("{stem}-{id}{ext}", APP_FIELDS) is None
    assert template_problem("{stem}-{sha8}{ext}", APP_FIELDS) is not None
    assert template_problem("{id}") is not None  # a watch folder's key has no id
    assert _app_key("x.jpg", "{folder}/{host}/", "{id}") == \
        "app/studio-1/k2mx7qa4b9c3d5e6f8g2h4j6"
