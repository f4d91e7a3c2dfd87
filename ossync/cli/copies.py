"""What the CLI says about replicas: each file's copies in `ossync show`, one replica's
files for `ls --replica` and `status --replica`, and each destination in `check-config`.

A copy's URL is the plain one recorded for it (apps are handed the primary's); its state
is its own (`pending`, `uploading`, `uploaded`, `failed`, `skipped`).
"""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone

from ossync.cli.errors import NotFound, UsageError, shown
from ossync.cli.output import cell
from ossync.config import Config
from ossync.core.clock import rfc3339
from ossync.core.errors import ConfigError
from ossync.credentials import CredentialError
from ossync.ledger import Copy, CopyCatalog, Item, Ledger
from ossync.stores import describe_target

REPLICA_HELP = "a replica's name: its copies (state, object and URL the copy's)"


def copy_lines(copies: Sequence[Copy]) -> str:
    """`    copy nas: uploaded file:///…` for each copy of one path (the `show` table)."""
    lines = []
    for c in copies:
        if c.state == "uploaded":
            alias = " (the same bytes as another file's copy)" if c.duplicate else ""
            lines.append(f"    copy {cell(c.destination)}: uploaded {cell(c.url)}{alias}\n")
            continue
        error = f", last error: {cell(c.last_error)}" if c.last_error else ""
        lines.append(f"    copy {cell(c.destination)}: {c.state}, {c.attempts} attempt(s), "
                     f"updated {c.updated_at}{error}\n")
    return "".join(lines)


def copies_of(ledger: CopyCatalog, items: Sequence[Item]) -> list[list[Copy]]:
    found = ledger.copies_for((i.host, i.path) for i in items)
    return [found.get((i.host, i.path), []) for i in items]


def known_replica(ledger: Ledger, name: str) -> str:
    """`--replica NAME`: a destination the ledger has copies for; NotFound (exit 1) names
    the ones it has."""
    names = sorted(ledger.copy_counts())
    if name not in names:
        have = ", ".join(names) or "none yet"
        raise NotFound(f"--replica {shown(name)}: the ledger has no copies to such a "
                       f"replica (replicas with copies: {have})")
    return name


def replica_items(args: Namespace, ledger: Ledger, since: datetime | None,
                  until: datetime | None, folder: str | None) -> Iterator[Item]:
    """`ls --replica NAME`: that replica's copies as items, with their plain URLs."""
    if args.url_mode == "signed" or args.expires or args.process:
        raise UsageError("--replica lists the copies' plain URLs: --signed, --expires and "
                         "--process apply to the primary's")
    return ledger.iter_copy_items(known_replica(ledger, args.replica), since=since,
                                  until=until, folder=folder,
                                  state=None if args.state == "all" else args.state,
                                  limit=args.limit)


def check_replicas(config: Config, source: str) -> list[str]:
    """`check-config`'s lines for each replica: its store, and where its keys come from
    (a rotating source of its own is asked once, as the primary's is)."""
    lines = []
    for replica in config.replicas:
        lines.append(f"  replica {replica.name}: {describe_target(replica)}")
        own = replica.credential_source
        if own is None or own is config.credential_source:
            continue
        try:
            keys = own.fetch()
        except CredentialError as exc:
            raise ConfigError([f"replicas {replica.name}: {replica.target_name} credentials: "
                               f"{exc}"], source) from None
        if keys.expires_at is not None and keys.expires_at <= datetime.now(timezone.utc):
            raise ConfigError([f"replicas {replica.name}: credentials from {own.describe()} "
                               f"expired at {rfc3339(keys.expires_at)}"], source)
        lines.append(f"    keys from {own.describe()}")
    for w in config.watch:
        if config.replicas:
            lines.append(f"  watch {w.label} copies to: {', '.join(w.replicas) or 'none'}")
    return lines
