"""Filesystem events → candidate paths. Events are hints, never the only source of truth.

One inotify observer serves every native folder; folders on network mounts
use a polling observer. Paths go onto a queue for the intake thread, so the
observer thread never blocks on stat() or SQLite. When events may have been
lost (kernel queue overflow, a folder moved in, a watch limit hit) the
`on_rescan` callback asks for a scan, which finds whatever events missed.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from ossync.config import WatchConfig
from ossync.core import failpoints
from ossync.intake.watchlimit import SYSCTL_HINT, unwatched_folders, watched_inodes

log = logging.getLogger(__name__)
RAISE_WATCHES = SYSCTL_HINT
FILE_EVENTS = {"created", "modified", "closed", "moved"}
ROOT_CHECK = 10.0  # seconds between looks at whether a watched folder is still the same one
# Only these reach us: without a filter inotify also reports every open and read-only
# close — including our own reads of each file, several per upload.
EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileMovedEvent,
    DirCreatedEvent, DirMovedEvent, DirDeletedEvent,
]


class _Handler(FileSystemEventHandler):
    def __init__(self, folder: WatchConfig, paths: queue.Queue[tuple[WatchConfig, str] | None],
                 on_rescan: Callable[[WatchConfig, Path], None],
                 stopping: threading.Event,
                 on_gone: Callable[[WatchConfig], None] = lambda folder: None) -> None:
        self.folder = folder
        self.paths = paths
        self.on_rescan = on_rescan
        self.stopping = stopping
        self.on_gone = on_gone

    def on_any_event(self, event: FileSystemEvent) -> None:
        # Runs on the observer thread: an exception here ends that thread.
        if failpoints.hit("intake.event", self.stopping):
            return
        if isinstance(event, (DirDeletedEvent, DirMovedEvent)) and (
                str(event.src_path) == str(self.folder.path)):
            self.on_gone(self.folder)  # the watch went with it: watch it again when it is back
            return
        if isinstance(event, DirDeletedEvent):
            return
        if isinstance(event, (DirCreatedEvent, DirMovedEvent)):
            # Files may land in a new folder before its watch exists; a folder
            # moved in brings files no event will ever name.
            target = event.dest_path if isinstance(event, DirMovedEvent) else event.src_path
            self.on_rescan(self.folder, Path(str(target)))
            return
        if event.is_directory or event.event_type not in FILE_EVENTS:
            return
        path = event.dest_path if event.event_type == "moved" else event.src_path
        self.paths.put((self.folder, str(path)))


class _OverflowAlarm(logging.Handler):
    """watchdog reports a kernel queue overflow only as a log warning: turn it into a rescan."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self.on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.on_overflow()


class Watcher:
    def __init__(self, paths: queue.Queue[tuple[WatchConfig, str] | None],
                 on_rescan: Callable[[WatchConfig, Path], None],
                 on_overflow: Callable[[], None]) -> None:
        self.paths = paths
        self.on_rescan = on_rescan
        self.on_overflow = on_overflow
        self._observers: dict[str, BaseObserver] = {}
        self._native: dict[str, tuple[ObservedWatch, _Handler]] = {}
        self._roots: dict[str, int] = {}  # native folder → the inode its watch is on
        self._next_root_check = 0.0
        self._alarm = _OverflowAlarm(self._overflowed)
        self._gone: dict[str, WatchConfig] = {}  # native folders whose root went away
        self._gone_lock = threading.Lock()
        self._stopping = threading.Event()  # set by stop(): lets go of a hung handler
        self.overflows = 0  # kernel queue overflows so far (for metrics)

    def _overflowed(self) -> None:
        self.overflows += 1
        log.warning("inotify event queue overflowed: events were lost; rescanning all folders "
                    "(to make this rarer: sysctl fs.inotify.max_queued_events=65536)")
        self.on_overflow()

    def start(self, folders: tuple[WatchConfig, ...]) -> None:
        logging.getLogger("watchdog.observers.inotify_c").addHandler(self._alarm)
        logging.getLogger("watchdog.observers.inotify").addHandler(self._alarm)
        for folder in folders:
            self.add(folder)
        self.check_watch_limits()

    def _observer(self, folder: WatchConfig) -> BaseObserver:
        kind = f"polling:{folder.poll_interval}" if folder.observer == "polling" else "native"
        if kind not in self._observers:
            observer = (PollingObserver(timeout=folder.poll_interval)
                        if folder.observer == "polling" else Observer())
            observer.daemon = True
            observer.start()
            self._observers[kind] = observer
        return self._observers[kind]

    def add(self, folder: WatchConfig) -> None:
        handler = _Handler(folder, self.paths, self.on_rescan, self._stopping, self._root_gone)
        try:
            watch = self._observer(folder).schedule(handler, str(folder.path),
                                                    recursive=folder.recursive,
                                                    event_filter=EVENT_FILTER)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EMFILE):
                raise
            self._fall_back(folder, handler, f"inotify limit reached ({exc.strerror})")
            return
        if folder.observer == "native":
            self._native[folder.label] = (watch, handler)
            with contextlib.suppress(OSError):
                self._roots[folder.label] = os.stat(folder.path).st_ino

    def _root_gone(self, folder: WatchConfig) -> None:
        """Runs on the observer thread: only note it (the main loop acts)."""
        if folder.observer == "native":
            log.warning("watch folder %s was removed or moved away; it is watched again as "
                        "soon as it is back", folder.path)
            with self._gone_lock:
                self._gone[folder.label] = folder

    def watch_returned(self) -> None:
        """Watch again, natively, every folder that was removed and is back. The main loop
        calls this every turn: one stat per folder that went away; and every ROOT_CHECK
        seconds one stat per folder, for a folder moved away (inotify tells its watch,
        which follows the folder, nothing) and another made in its place."""
        if time.monotonic() >= self._next_root_check:
            self._next_root_check = time.monotonic() + ROOT_CHECK
            for label, (_watch, handler) in list(self._native.items()):
                try:
                    inode = os.stat(handler.folder.path).st_ino
                except OSError:
                    continue
                if inode != self._roots.get(label):
                    self._rewatch(handler.folder)
        with self._gone_lock:
            back = [f for f in self._gone.values() if f.path.is_dir()]
            for folder in back:
                del self._gone[folder.label]
        for folder in back:
            self._rewatch(folder)

    def _rewatch(self, folder: WatchConfig) -> None:
        """A new watch for a folder made again (its old one ended with its inode)."""
        old = self._native.pop(folder.label, None)
        self._roots.pop(folder.label, None)
        if old is not None:
            with contextlib.suppress(KeyError):  # the emitter may have gone already
                self._observers["native"].unschedule(old[0])
        self.add(folder)
        log.info("watching %s again", folder.path)
        self.on_rescan(folder, folder.path)

    def check_watch_limits(self) -> None:
        """Watch again a folder removed and made again; move folders whose subfolders
        inotify could not all watch (the watch limit) to polling."""
        watched = watched_inodes()
        for label, (watch, handler) in list(self._native.items()):
            folder = handler.folder
            try:
                root = os.stat(folder.path).st_ino
            except OSError:
                continue  # gone for now: nothing to watch, nothing to fall back to
            if root not in watched:
                self._rewatch(folder)  # falls back to polling only if the limit refuses it
                continue
            missing = unwatched_folders(folder.path, folder.recursive, watched)
            if missing:
                self._observers["native"].unschedule(watch)
                del self._native[label]
                self._roots.pop(label, None)
                self._fall_back(folder, handler, f"inotify watch limit reached: {missing} "
                                "folder(s) there are not watched")

    def _fall_back(self, folder: WatchConfig, handler: _Handler, reason: str) -> None:
        log.error("cannot watch %s with inotify: %s; polling it every %.0fs instead; %s",
                  folder.path, reason, folder.poll_interval, RAISE_WATCHES)
        polling = PollingObserver(timeout=folder.poll_interval)
        polling.daemon = True
        polling.start()
        self._observers[f"fallback:{folder.path}"] = polling
        polling.schedule(handler, str(folder.path), recursive=folder.recursive,
                         event_filter=EVENT_FILTER)
        self.on_rescan(folder, folder.path)

    def remove_all(self) -> None:
        for observer in self._observers.values():
            observer.unschedule_all()
        self._native.clear()
        self._roots.clear()

    def mode(self, label: str) -> str:
        """`watched` while inotify watches the folder, else `polled` (configured so, or
        fallen back after a watch limit)."""
        return "watched" if label in self._native else "polled"

    def alive(self) -> bool:
        """False when an observer thread died (watchdog issues #663, #829)."""
        return all(o.is_alive() for o in self._observers.values())

    def stop(self) -> None:
        self._stopping.set()
        for observer in self._observers.values():
            observer.stop()
        for observer in self._observers.values():
            if observer.is_alive():
                observer.join(timeout=5)
        self._observers.clear()
        logging.getLogger("watchdog.observers.inotify_c").removeHandler(self._alarm)
        logging.getLogger("watchdog.observers.inotify").removeHandler(self._alarm)
