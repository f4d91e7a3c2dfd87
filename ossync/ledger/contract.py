"""The whole ledger: every contract one backend implements (ossync.ledger.contracts), and
how to open one. `Ledger.open(location)` picks the backend that claims the location.

Callers see the contract they need (a worker a `Queue`, the CLI a `Catalog`); only the
code that opens a ledger and hands its parts out holds the whole.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ossync.core.host import default_host
from ossync.ledger.contracts import (
    AppUploads,
    Backfill,
    Catalog,
    Checkpoints,
    Copier,
    CopyCatalog,
    CopyQueue,
    Fanout,
    Intake,
    Outbox,
    Queue,
    Recorder,
    Requeue,
    Upkeep,
)
from ossync.ledger.present import UrlSigner

Opener = Callable[[str, bool, bool, str], "Ledger"]
DEFAULT_LEASE = 600.0  # seconds a claim holds without renewal: longer than any progress gap
_BACKENDS: list[tuple[Callable[[str], bool], Opener]] = []


def register_backend(claims: Callable[[str], bool], opener: Opener) -> None:
    """A backend says which locations it serves (a path, a `postgresql://` URL, …)."""
    _BACKENDS.append((claims, opener))


class Ledger(Intake, Queue, Upkeep, Checkpoints, Catalog, Requeue, Recorder, Copier, Outbox,
             Fanout, CopyQueue, Backfill, CopyCatalog, AppUploads, Protocol):
    """The durable queue of local files and the record of the objects they became."""

    host: str  # this daemon's name, recorded on every row it writes
    groups: tuple[str, ...]  # folder groups whose rows this host takes too
    signer: UrlSigner | None

    @classmethod
    def open(cls, location: Path | str, *, readonly: bool = False, exclusive: bool = False,
             host: str | None = None, groups: tuple[str, ...] = (),
             signer: UrlSigner | None = None) -> Ledger:
        """Open (creating and migrating unless read-only).

        `exclusive` refuses a second daemon with the same host name on the same ledger;
        `host` defaults to the machine's host name; `groups` are the folder groups the
        daemon serves; `signer` signs `url_for(signed=True)`."""
        text = str(location)
        for claims, opener in _BACKENDS:
            if claims(text):
                ledger = opener(text, readonly, exclusive, host or default_host())
                ledger.groups = tuple(groups)
                ledger.signer = signer
                return ledger
        raise ValueError(f"no ledger backend understands {text!r}")

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
