"""One version, said the same everywhere: `ossync/__init__.py` (which the package's
metadata reads), `ossync --version`, and the newest release in CHANGELOG.md (Keep a
Changelog form, with its date)."""

from __future__ import annotations

import io
import re
from importlib.metadata import version
from pathlib import Path

import ossync
from ossync.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_one_and_the_changelog_names_it() -> None:
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$",
                          (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert releases, "CHANGELOG.md has no `## [X.Y.Z] - YYYY-MM-DD` release"
    assert releases[0][0] == ossync.__version__
    assert version("ossync") == ossync.__version__
    out = io.StringIO()
    assert main(["--version"], out, io.StringIO()) == 0
    assert out.getvalue().strip() == f"ossync {ossync.__version__}"
    dates = [d for _, d in releases]
    assert dates == sorted(dates, reverse=True)  # newest first
