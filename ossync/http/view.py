"""What the listener reads of the running daemon (`ossync.service.daemon.Daemon`), as a
Protocol: the HTTP package never imports the service that starts it."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from ossync.config import Config, WatchConfig
from ossync.core.credentials import Credentials, CredentialsUnavailable, CredentialSupply
from ossync.ledger import Ledger, Queue
from ossync.targets import Target
from ossync.targets.direct import FormIssuer


class Watching(Protocol):
    overflows: int  # inotify queue overflows since start

    def mode(self, label: str) -> str: ...  # `watched` (inotify) or `polled`


class DaemonView(Protocol):
    stop_event: threading.Event

    @property
    def config(self) -> Config: ...
    @property
    def folders(self) -> Mapping[str, WatchConfig]: ...
    @property
    def watcher(self) -> Watching: ...
    @property
    def queue(self) -> Queue: ...  # the daemon's queue: a retry wakes its workers
    @property
    def ledger(self) -> Ledger: ...  # the daemon's read-write ledger
    @property
    def target(self) -> Target: ...
    @property
    def busy_since(self) -> Mapping[str, float]: ...
    @property
    def forms(self) -> FormIssuer | None: ...  # signs apps' forms (`uploads:`), if any
    @property
    def refresher(self) -> CredentialSupply | None: ...  # keys that rotate, if they do
    def credentials_problem(self) -> str | None: ...
    def health_problems(self) -> list[str]: ...  # liveness: empty while alive and well
    def hold_problems(self) -> list[str]: ...  # why uploads are held: empty while they go


def current_credentials(daemon: DaemonView) -> Credentials | None:
    """The keys the daemon signs with right now (None: a local folder, or none valid)."""
    if daemon.refresher is not None:
        try:
            return daemon.refresher.current()
        except CredentialsUnavailable:
            return None
    return daemon.config.credentials


def credentials_expiry(daemon: DaemonView) -> datetime | None:
    """When the current keys stop working; None when they do not say (or do not expire)."""
    creds = current_credentials(daemon)
    return None if creds is None else creds.expires_at


@dataclass(frozen=True)
class FolderState:
    label: str
    path: Path
    state: str  # `watched` (inotify), `polled`, or `missing` (the folder is gone)
    avail_bytes: int | None  # free space of the file system behind it, for this user
    size_bytes: int | None


FOLDER_STATES = ("watched", "polled", "missing")


def folder_states(daemon: DaemonView) -> list[FolderState]:
    """Each configured watch folder (paths from the config, never from a request)."""
    found = []
    for label, folder in sorted(daemon.folders.items()):
        state = daemon.watcher.mode(label) if folder.path.is_dir() else "missing"
        try:
            fs = os.statvfs(folder.path)
            avail: int | None = fs.f_bavail * fs.f_frsize
            size: int | None = fs.f_blocks * fs.f_frsize
        except OSError:
            avail = size = None
        found.append(FolderState(label, folder.path, state, avail, size))
    return found
