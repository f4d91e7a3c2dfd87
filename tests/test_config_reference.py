"""config.sample.yaml and docs/configuration.md are what the schema generates: current,
naming every key with its bounds, and loadable (the commented alternatives too)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ossync.config import parse_config
from ossync.config.reference import REGENERATE, markdown, sample
from ossync.config.schema import KEYS

from .conftest import ACCESS_KEY_ID, SECRET

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "config.sample.yaml"
REFERENCE = ROOT / "docs" / "configuration.md"
ENV = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET,
       "AWS_ACCESS_KEY_ID": "AKIAOSSYNCTEST", "AWS_SECRET_ACCESS_KEY": SECRET}


@pytest.mark.parametrize(("path", "write"), [(SAMPLE, sample), (REFERENCE, markdown)],
                         ids=["sample", "reference"])
def test_the_generated_files_are_current(path: Path, write: Any) -> None:
    assert path.read_text(encoding="utf-8") == write(), (
        f"{path.relative_to(ROOT)} is out of date; regenerate it: {REGENERATE}")


def test_the_generator_runs_as_documented() -> None:
    done = subprocess.run([sys.executable, "-m", "ossync.config.reference", "sample"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and done.stdout == sample(), done.stderr
    done = subprocess.run([sys.executable, "-m", "ossync.config.reference", "nonsense"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and "usage:" in done.stderr


def test_every_key_is_in_both_with_its_bounds() -> None:
    text, page = sample(), markdown()
    for key in KEYS:
        assert f"`{key.path}`" in page, key.path
        assert re.search(rf"^#?\s*(- )?#? ?{re.escape(key.name)}:", text, re.MULTILINE), key.path
        if key.numeric:
            assert f"From {key.bounds}." in re.sub(r"\n\s*#\s*#?\s*", " ", text), key.path
            assert key.bounds in page, key.path


def _uncommented(block: str) -> Any:
    """A commented-out section of the sample, as YAML."""
    lines = [line[2:] for line in block.splitlines()]
    return yaml.safe_load("\n".join(lines))


@pytest.mark.parametrize("section", ["s3", "local", "http"])
def test_the_commented_sections_load(tmp_path: Path, section: str) -> None:
    match = re.search(rf"^# {section}:\n(?:#  .*\n)+", sample(), re.MULTILINE)
    assert match, f"config.sample.yaml has no commented {section}: block"
    raw = _uncommented(match.group(0))
    store = tmp_path / "images"
    store.mkdir()
    doc: dict[str, Any] = {"ledger": "ledger.db"}
    if section == "http":
        doc["oss"] = {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com", "bucket": "b-1"}
    if section == "local":
        raw["local"]["path"] = str(store)
    config = parse_config({**doc, **raw}, base=tmp_path, env=ENV)
    assert not config.warnings
