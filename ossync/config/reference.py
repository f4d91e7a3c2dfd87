"""`config.sample.yaml` and `docs/configuration.md`, written from the schema so neither
can drift from what the parser does:

    python -m ossync.config.reference sample > config.sample.yaml
    python -m ossync.config.reference markdown > docs/configuration.md

`tests/test_config_reference.py` fails when a committed file is not what this prints.
"""

from __future__ import annotations

import json
import sys
import textwrap

import yaml

from ossync.config.key import LIVE, Key
from ossync.config.schema import KEYS, LISTS, RELATIONS, section_keys

WIDTH = 88
REGENERATE = ("python -m ossync.config.reference sample > config.sample.yaml && "
              "python -m ossync.config.reference markdown > docs/configuration.md")
SAMPLE_HEAD = """\
ossync configuration: every key with its default and bounds. Copy it to
/etc/ossync/config.yaml and check it with: ossync check-config -c /etc/ossync/config.yaml
Relative paths are relative to this file's folder; any string may use ${VAR} to take an
environment variable. A key ossync does not know stops the start (see unknown_keys).
Keys of the top level say whether `systemctl reload ossync` applies them or they need
a restart. docs/configuration.md is the reference. This file is generated from
ossync/config/keys_*.py by: python -m ossync.config.reference sample"""
MARKDOWN_HEAD = """\
# Configuration reference

Every key of the config file, with its default, its bounds and whether a reload
(`systemctl reload ossync`, SIGHUP) applies it or it needs a restart. Generated from
`ossync/config/keys_*.py` by `python -m ossync.config.reference markdown`, like
`config.sample.yaml` at the top of the repository; edit those, not this page.

- **Durations** are `500ms`, `30s`, `15m`, `2h`, `7d` or a number of seconds; **sizes**
  `100KB`, `20MB`, `5GiB` or a number of bytes; **rates** `20MB/s`, `512KiB/s`,
  `100Mbit/s` or `off`.
- Any string may use `${VAR}` to take an environment variable; an unset one is an error.
- Relative paths are relative to the config file's folder.
- A key ossync does not know is an error that names it and the key it was probably meant
  to be (`strip_metdata: unknown key; did you mean strip_metadata?`). With
  `unknown_keys: warn` it is logged and ignored instead: for a config shared with a
  newer ossync.
- `ossync check-config` reports every problem at once, one line each, with the key's
  path (`watch[1].settle_seconds: ...`), and exits 78 (as `ossync run` does).
- On reload, keys marked *live* apply at once; a change to a *restart* key is logged
  (`changed, needs a restart: workers, oss.bucket`) and waits for the next start."""
TITLES = {"": "Top level", "watch": "watch[]: each folder",
          "webhooks": "webhooks[]: each endpoint", "replicas": "replicas[]: each replica",
          "oss": "oss:", "s3": "s3:",
          "local": "local:", "http": "http:", "uploads": "uploads:"}


def sample() -> str:
    """The whole sample config."""
    lines = [*_comment(SAMPLE_HEAD.splitlines(), ""), ""]
    for key in section_keys(""):
        lines += _top_entry(key)
    return "\n".join(lines).rstrip("\n") + "\n"


def _top_entry(key: Key) -> list[str]:
    if key.kind not in ("section", "list"):
        return [*_key_lines(key, "", tag=True), ""]
    lines = _comment([*_wrap(key.text, ""), *key.note.splitlines()], "")
    body = [f"{key.name}:"]
    for i, member in enumerate(section_keys(key.name)):
        body += _key_lines(member, "  ", first=key.kind == "list" and i == 0)
    body = "\n".join(body).split("\n")
    if key.commented:
        body = [f"# {line}" for line in body]
    return [*lines, *body, ""]


def _key_lines(key: Key, indent: str, *, tag: bool = False, first: bool = False
               ) -> list[str]:
    """The comment and the `key: value` line of one key (`- key:` for the first key of a
    list entry, whose other keys sit two columns further in)."""
    words = [key.text]
    if key.kind == "choice" and not all(c in key.text for c in key.choices):
        words.append(f"One of: {', '.join(key.choices)}.")
    if key.default is not None or key.default_text:
        if key.example is not None or key.commented:
            words.append(f"Default: {key.default_shown}.")
    else:
        words.append("Optional." if key.commented else "Required.")
    if key.bounds:
        words.append(f"From {key.bounds}.")
    if tag:
        words.append("Applied on reload." if key.reload == LIVE else "Needs a restart.")
    lead = indent + ("  " if key.section in LISTS and not first else "")
    name = f"- {key.name}" if first else key.name
    value = key.default if key.example is None else key.example
    quote = key.kind in ("template", "globs", "argv")
    line = f"{name}: {_yaml(value, len(lead) + len(name) + 2, quote)}"
    comment = _comment([*_wrap(" ".join(words), lead), *key.note.splitlines()], lead)
    return [*comment, f"{lead}# {line}" if key.commented else f"{lead}{line}"]


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH - len(indent) - 2, break_on_hyphens=False)


def _comment(lines: list[str], indent: str) -> list[str]:
    return [f"{indent}# {line}".rstrip() for line in lines]


def _yaml(value: object, column: int, quote: bool = False) -> str:
    """`value` as YAML starting at `column`: plain when YAML reads it back as it is (or
    always double-quoted), a list in brackets wrapped under its first item."""
    if isinstance(value, (list, tuple)):
        items = [_yaml(v, 0, quote) for v in value]
        out, line = [], " " * column + "["
        for i, item in enumerate(items):
            piece = item + ("," if i < len(items) - 1 else "]")
            if len(line) + len(piece) > WIDTH and line.strip() != "[":
                out.append(line.rstrip())
                line = " " * (column + 1)
            line += piece + " "
        out.append(line.rstrip())
        return "\n".join(out)[column:]
    dumped = yaml.safe_dump(value, default_flow_style=True, width=1000)
    plain = dumped.removesuffix("\n...\n").strip()
    if isinstance(value, str) and (quote or plain != value):
        return json.dumps(value, ensure_ascii=False)
    return plain


def markdown() -> str:
    """The reference page: a table per section, then the checks across keys."""
    lines = [MARKDOWN_HEAD, ""]
    for section, title in TITLES.items():
        lines += [f"## {title}", "", "| key | default | bounds | on reload | description |",
                  "|---|---|---|---|---|"]
        for key in section_keys(section):
            lines.append(f"| `{key.path}` | {_default(key)} | {_cell(key.bounds)} "
                         f"| {'live' if key.reload == LIVE else 'restart'} "
                         f"| {_cell(_described(key))} |")
        lines.append("")
    lines += ["## Checks across keys", "", *(f"- {_cell(r)}" for r in RELATIONS), ""]
    return "\n".join(lines)


def _described(key: Key) -> str:
    if key.kind == "choice" and not all(c in key.text for c in key.choices):
        return f"{key.text} One of: {', '.join(key.choices)}."
    return key.text


def _default(key: Key) -> str:
    if key.kind in ("section", "list") or (key.default is None and not key.default_text):
        return "-"
    return _cell(key.default_shown) if key.default_text else f"`{key.default_shown}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|") if text else "-"


def main(argv: list[str]) -> int:
    writers = {"sample": sample, "markdown": markdown}
    if len(argv) != 1 or argv[0] not in writers:
        sys.stderr.write("usage: python -m ossync.config.reference sample|markdown\n")
        return 2
    sys.stdout.write(writers[argv[0]]())
    return 0


assert KEYS  # the schema is loaded before anything is written

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
