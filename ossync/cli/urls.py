"""Which URLs the query commands print: `--signed`/`--public`/`--expires`/`--process`
resolved against the config's `url_mode`, checked before the ledger is opened."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import Any

from ossync.cli.errors import UsageError, shown
from ossync.cli.loading import readable_config
from ossync.config import load_config, url_mode_from_config
from ossync.core.errors import ConfigError
from ossync.core.textforms import is_plain
from ossync.core.units import parse_duration
from ossync.ledger import Item
from ossync.ledger.present import UrlChoice
from ossync.service.logsetup import register_secrets
from ossync.stores import signing_stores, store_of, url_signer
from ossync.targets.oss.presign import lifetime_seconds


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
    if args.process is not None and not (args.process and is_plain(args.process)):
        raise UsageError(f"--process {shown(args.process)}: not a processing spec (plain "
                         "text like image/resize,w_300)")
    mode = args.url_mode or _configured_mode(args.config)
    if mode == "public":
        if expires is not None:
            raise UsageError("--expires applies to signed URLs only (add --signed)")
        return UrlChoice(process=args.process)
    try:
        with readable_config(args.config):
            config = load_config(args.config)
    except ConfigError as exc:
        raise UsageError(f"signed URLs need a loadable config (-c CONFIG) for the "
                         f"credentials and endpoint, and {exc.source} does not load: "
                         f"{'; '.join(exc.problems)} (or use --public)") from None
    if store_of(config).signer is None:
        raise UsageError(f"signed URLs are made for {signing_stores()} targets only, and "
                         f"this config's target is {config.target_name}: (use --public)")
    signer = url_signer(config)
    register_secrets(signer.credentials.secrets())
    moment = signer.clock()  # one moment for every URL of this command
    signer = dataclasses.replace(signer, clock=lambda: moment)
    wanted = signer.expires if expires is None else expires
    if signer.lifetime(wanted) < int(wanted):
        logging.getLogger("ossync.cli").warning(
            "signed URLs expire in %ds, with the STS token they carry", signer.lifetime(wanted))
    return UrlChoice(signer, wanted, args.process)


def url_row(choice: UrlChoice, item: Item) -> dict[str, Any]:
    """`choice.row(item)`, every row with the same keys (a CSV header is written once)."""
    row = choice.row(item)
    if choice.signer is not None:
        row.setdefault("url_expires_at", None)  # a row without a URL has no expiry
    return row


def _expires(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(lifetime_seconds(parse_duration(text)))
    except (ValueError, OverflowError) as exc:
        raise UsageError(f"--expires {shown(text)}: {exc}") from None


def _configured_mode(config: Path | None) -> str:
    """The config's url_mode; `public` (the recorded URLs) when there is no config."""
    if config is None or not Path(config).is_file():
        return "public"
    try:
        return url_mode_from_config(Path(config)) or "public"
    except UnicodeDecodeError:  # not a config; the ledger look-up will say so
        return "public"
