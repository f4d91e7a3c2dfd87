"""`ossync url|ls|show|status|retry|export`: the ledger for people and programs.

Handlers read the ledger (read-only, except `retry`) and return an exit status;
`cli.main` turns exceptions into one line and a status.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any, TextIO

from ossync.cli.output import add_format_options, emit
from ossync.config import LedgerSettings, ledger_from_config, load_config, url_mode_from_config
from ossync.core.chunks import chunks
from ossync.core.errors import ConfigError, OssyncError
from ossync.core.host import default_host
from ossync.core.units import parse_duration, parse_time
from ossync.ledger import STATES, Item, Ledger
from ossync.ledger.present import UrlChoice, record
from ossync.service.logsetup import register_secrets
from ossync.targets.oss.presign import UrlSigner, lifetime_seconds

LS_COLUMNS = ("updated_at", "state", "folder", "path", "url")
URL_COLUMNS = ("path", "url")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class UsageError(OssyncError):
    """Bad arguments (a time that is not a time, a bad limit): exit status 2."""


def add_query_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                       common: Any) -> None:
    url = sub.add_parser("url", help="print the URL of each uploaded local file")
    common(url)
    url.add_argument("paths", nargs="+", metavar="PATH")
    add_format_options(url)
    add_url_options(url)

    ls = sub.add_parser("ls", help="list files and their URLs, newest first")
    common(ls)
    ls.add_argument("--since", help="ISO 8601 time or an age like 2h, 7d")
    ls.add_argument("--until", help="ISO 8601 time or an age like 2h, 7d")
    ls.add_argument("--folder", help="a watch folder's label or path")
    ls.add_argument("--state", default="uploaded", choices=[*STATES, "all"])
    ls.add_argument("--limit", type=int, default=None)
    add_format_options(ls)
    add_url_options(ls)

    show = sub.add_parser("show", help="everything the ledger knows about a key, path or hash")
    common(show)
    show.add_argument("what", metavar="KEY|PATH|SHA256")
    add_format_options(show)
    add_url_options(show)

    status = sub.add_parser("status", help="queue and upload summary from the ledger")
    common(status)
    add_format_options(status)

    retry = sub.add_parser("retry", help="queue failed files for another try")
    common(retry)
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every failed file")
    which.add_argument("paths", nargs="*", metavar="PATH", default=[])

    export = sub.add_parser("export", help="dump every file record for other tools")
    common(export)
    export.add_argument("--since", help="ISO 8601 time or an age like 2h, 7d")
    export.add_argument("--format", dest="format", required=True, choices=["csv", "json", "nl"])


def add_url_options(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--signed", dest="url_mode", action="store_const", const="signed",
                      help="presigned URLs, which work on a private bucket (needs the "
                           "config's credentials; default when oss.url_mode is signed)")
    mode.add_argument("--public", dest="url_mode", action="store_const", const="public",
                      help="the recorded, unsigned URLs (public buckets, CDNs)")
    parser.add_argument("--expires", metavar="DURATION",
                        help="how long signed URLs work, e.g. 15m, 2h (at most 7d; "
                             "default: oss.url_expires, 1h)")
    parser.add_argument("--process", metavar="SPEC",
                        help="OSS image processing, e.g. 'image/resize,w_300' (signed into "
                             "signed URLs)")
    parser.set_defaults(url_mode=None)


def url_choice(args: argparse.Namespace) -> UrlChoice:
    """Resolve --signed/--public/--expires/--process against the config's url_mode."""
    expires = _expires(args.expires)
    mode = args.url_mode or _configured_mode(args.config)
    if mode == "public":
        if expires is not None:
            raise UsageError("--expires applies to signed URLs only (add --signed)")
        return UrlChoice(process=args.process)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise UsageError(f"signed URLs need a loadable config (-c CONFIG) for the "
                         f"credentials and endpoint, and {exc.source} does not load: "
                         f"{'; '.join(exc.problems)} (or use --public)") from None
    if config.oss is None:
        raise UsageError(f"signed URLs are made for oss: targets only, and this config's "
                         f"target is {config.target_name}: (use --public)")
    signer = UrlSigner.from_config(config)
    register_secrets(signer.credentials.secrets())
    moment = signer.clock()  # one moment for every URL of this command
    signer = dataclasses.replace(signer, clock=lambda: moment)
    wanted = signer.expires if expires is None else expires
    if signer.lifetime(wanted) < int(wanted):
        logging.getLogger("ossync.cli").warning(
            "signed URLs expire in %ds, with the STS token they carry", signer.lifetime(wanted))
    return UrlChoice(signer, wanted, args.process)


def _expires(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(lifetime_seconds(parse_duration(text)))
    except ValueError as exc:
        raise UsageError(f"--expires {text}: {exc}") from None


def _configured_mode(config: Path | None) -> str:
    """The config's url_mode; `public` (the recorded URLs) when there is no config."""
    if config is None or not Path(config).exists():
        return "public"
    return url_mode_from_config(Path(config)) or "public"


def _ledger_settings(args: argparse.Namespace) -> LedgerSettings:
    """--ledger, else $OSSYNC_LEDGER, else the config's; --host, else the config's host:."""
    given = args.ledger or os.environ.get("OSSYNC_LEDGER")
    if not given:
        settings = ledger_from_config(args.config)
        return LedgerSettings(settings.location, args.host or settings.host)
    if args.host:
        return LedgerSettings(given, args.host)
    try:  # the config, when there is a readable one, still names this host
        return LedgerSettings(given, ledger_from_config(args.config).host)
    except ConfigError:
        return LedgerSettings(given, default_host())


def open_ledger(args: argparse.Namespace, *, write: bool = False) -> Ledger:
    settings = _ledger_settings(args)
    if write:
        Ledger.open(settings.location, readonly=True, host=settings.host).close()  # "missing"
    return Ledger.open(settings.location, readonly=not write, host=settings.host)


def _time(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _abspath(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def _sha256_of(path: str) -> str | None:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in chunks(fh):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None


def _lookup(ledger: Ledger, path: str) -> Item | None:
    """By path; failing that, by the content of the file at that path (moved or renamed)."""
    for candidate in dict.fromkeys((_abspath(path), os.path.realpath(path))):
        found = ledger.item(candidate)
        if found is not None and found.state == "uploaded":
            return found
    sha = _sha256_of(path)
    if sha is None:
        return None
    uploaded = [i for i in ledger.find(sha256=sha) if i.state == "uploaded"]
    return uploaded[0] if uploaded else None


def cmd_url(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    choice = url_choice(args)
    with open_ledger(args) as ledger:
        found = [(p, _lookup(ledger, p)) for p in args.paths]
        rows = [{**choice.row(item), "path": _abspath(p)}
                for p, item in found if item is not None]
    missing = [p for p, item in found if item is None]
    if args.format == "table":
        for row in rows:
            out.write(f"{row['url']}\n")
    else:
        emit(rows, args.format, out, URL_COLUMNS)
    for path in missing:
        err.write(f"ossync: not uploaded: {path}\n")
    return 1 if missing else 0


def _folder_label(ledger: Ledger, folder: str | None) -> str | None:
    """`--folder` takes a label or a path; a path maps to the label its files carry."""
    if folder is None or "/" not in folder:
        return folder
    return ledger.folder_under(_abspath(folder)) or folder


def cmd_ls(args: argparse.Namespace, out: TextIO) -> int:
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    since, until = _time(args.since), _time(args.until)
    choice = url_choice(args)
    with open_ledger(args) as ledger:
        items = ledger.iter_items(since=since, until=until,
                                  folder=_folder_label(ledger, args.folder),
                                  state=None if args.state == "all" else args.state,
                                  limit=args.limit)
        emit((choice.row(i) for i in items), args.format, out, LS_COLUMNS)
    return 0


def _show_items(ledger: Ledger, what: str) -> list[Item]:
    if _SHA256.match(what):
        return ledger.find(sha256=what)
    if what.startswith(("/", "./", "../", "~")) or os.path.exists(what):
        found = ledger.find(path=_abspath(what))
        if found and found[0].sha256:
            return ledger.find(sha256=found[0].sha256) or found
        return found
    return ledger.find(key=what)


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    choice = url_choice(args)
    with open_ledger(args) as ledger:
        items = _show_items(ledger, args.what)
        rows = [choice.row(i) for i in items]
        progress = {i.path: _parts_line(ledger, i) for i in items}
    if not items:
        raise NotFound(f"nothing in the ledger for {args.what!r}")
    if args.format != "table":
        emit(rows, args.format, out, LS_COLUMNS)
        return 0
    first = rows[0]
    for name in ("key", "url", "bucket", "sha256", "size", "content_type", "etag", "crc64",
                 "uploaded_at", "uploaded_from"):
        out.write(f"{name + ':':<15}{'-' if first[name] is None else first[name]}\n")
    out.write(_stripped_line(first))
    out.write(f"paths ({len(rows)}):\n")
    for row in rows:
        error = f"  last error: {row['last_error']}" if row["last_error"] else ""
        out.write(f"  {row['path']}  [{row['state']}, {row['attempts']} attempt(s), "
                  f"updated {row['updated_at']}]{error}\n")
        out.write(progress.get(row["path"]) or "")
    return 0


def _parts_line(ledger: Ledger, item: Item) -> str:
    """`    sending in parts: 120 of 256 stored` for a big file on its way."""
    if item.state not in ("pending", "uploading"):
        return ""
    found = ledger.multipart_of(item.host, item.path)
    if found is None:
        return ""
    row, parts = found
    total = -(-row.size // row.part_size)
    return f"    sending in parts: {len(parts)} of {total} stored (key {row.key})\n"


def _stripped_line(row: dict[str, Any]) -> str:
    """What strip_metadata removed, and what was sent when that differs from the file."""
    level = row.get("strip_level")
    if not level or level == "none":
        return f"{'stripped:':<15}- (strip_metadata: none)\n"
    if not row.get("stripped"):
        return f"{'stripped:':<15}nothing found to remove (strip_metadata: {level})\n"
    return (f"{'stripped:':<15}{row['stripped']} (strip_metadata: {level})\n"
            f"{'sent:':<15}{row['sent_size']} bytes, sha256 {row['sent_sha256']}, "
            f"crc64 {row['sent_crc64']}\n")


class NotFound(OssyncError):
    """A looked-up path, key or hash is not in the ledger: exit status 1."""


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    with open_ledger(args) as ledger:
        status = ledger.status()
    data = dataclasses.asdict(status)
    data["top_errors"] = [{"error": e, "count": n} for e, n in status.top_errors]
    if args.format != "table":
        emit([data], args.format if args.format != "csv" else "nl", out, ())
        return 0
    out.write(f"queued:          {status.queued}\n"
              f"in progress:     {status.in_progress}\n"
              f"failed:          {status.failed}\n"
              f"skipped:         {status.skipped}\n"
              f"uploaded today:  {status.uploaded_today}\n"
              f"uploaded total:  {status.uploads_total} object(s) for "
              f"{status.uploaded_files} path(s)\n"
              f"oldest pending:  {status.oldest_pending_since or '-'}\n"
              f"last upload:     {status.last_upload_at or '-'}\n")
    for error, count in status.top_errors:
        out.write(f"  {count} failed: {error}\n")
    return 0


def cmd_retry(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with open_ledger(args, write=True) as ledger:
        if args.all:
            count = ledger.retry_failed(None)
            out.write(f"re-queued {count} failed file(s)\n")
            return 0
        missing = [p for p in args.paths if ledger.retry_failed([_abspath(p)]) == 0]
    out.write(f"re-queued {len(args.paths) - len(missing)} file(s)\n")
    for path in missing:
        err.write(f"ossync: not a failed file in the ledger: {path}\n")
    return 1 if missing else 0


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    with open_ledger(args) as ledger:
        items = ledger.iter_items(since=_time(args.since), state=None)
        emit((record(i) for i in items), args.format, out, LS_COLUMNS)
    return 0
