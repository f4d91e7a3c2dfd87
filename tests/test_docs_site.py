"""README.md and docs/ hang together, on GitHub and as the MkDocs site: a short README
with the two quick-start commands as CI runs them, every page in mkdocs.yml's nav, and
every relative link pointing at a file and heading that exist (GitHub's anchors; the
site's are checked by `mkdocs build --strict`, which .ci/run runs)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
DEMO = ("python3 -m venv .venv && .venv/bin/pip install -q -e '.[local]' && "
        ".venv/bin/ossync demo")
TESTS = ("python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && "
         ".venv/bin/python -m pytest")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def test_the_readme_is_short_and_keeps_its_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 250
    lines = text.splitlines()
    assert DEMO in lines and TESTS in lines


def test_ci_runs_the_readme_test_command_then_builds_the_site() -> None:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert TESTS in lines, ".ci/run must run the README's test command verbatim"
    build = [i for i, line in enumerate(lines) if "mkdocs build --strict" in line]
    assert build and build[0] > lines.index(TESTS)


def test_every_page_is_in_the_nav() -> None:
    site = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert site["strict"] is True and site["docs_dir"] == "docs"

    def pages(entries: list[object]) -> list[str]:
        found: list[str] = []
        for entry in entries:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            found += pages(value) if isinstance(value, list) else [str(value)]
        return found

    nav = pages(site["nav"])
    assert nav[0] == "index.md"
    assert sorted(nav) == sorted(p.name for p in PAGES)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower-case, without punctuation, each
    space a hyphen."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def test_relative_links_resolve() -> None:
    broken = []
    for page in [README, *PAGES]:
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken


def test_docs_link_nothing_outside_docs() -> None:
    """The site holds docs/ only: a page's link out of it would break there."""
    outside = [f"{page.name}: {target}" for page in PAGES
               for target in LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8")))
               if not re.match(r"[a-z]+:", target) and target.split("#")[0]
               and not (page.parent / target.split("#")[0]).resolve().is_relative_to(
                   ROOT / "docs")]
    assert not outside


def test_the_slugs_are_githubs() -> None:
    assert slug("watch[]: each folder") == "watch-each-folder"
    assert slug("`ossync ledger copy`") == "ossync-ledger-copy"
    assert slug("Keys, URLs and look-ups") == "keys-urls-and-look-ups"
