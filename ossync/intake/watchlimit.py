"""Which watched folders inotify really watches, read from the kernel.

watchdog skips a subfolder silently when `fs.inotify.max_user_watches` is used up
(only the root folder's failure is raised), so files there would wait for the
periodic scan without a word. The kernel lists every watch of an inotify descriptor in
/proc/self/fdinfo, with the watched folder's inode number: comparing that list with the
folders on disk tells whether any is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

SYSCTL_HINT = ("raise it: sysctl fs.inotify.max_user_watches=524288 (persist it in "
               "/etc/sysctl.d/90-ossync.conf)")


def watched_inodes() -> set[int]:
    """Inode numbers of every folder some inotify descriptor of this process watches."""
    inodes: set[int] = set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                for line in info:
                    if line.startswith("inotify wd:"):
                        field = next(f for f in line.split() if f.startswith("ino:"))
                        inodes.add(int(field[4:], 16))
        except (OSError, StopIteration, ValueError):
            continue
    return inodes


def unwatched_folders(root: Path, recursive: bool, watched: set[int],
                      limit: int = 100_000) -> int:
    """How many folders under `root` (itself included) have no inotify watch."""
    missing = 0
    for count, (current, dirs, _files) in enumerate(os.walk(root), 1):
        try:
            if os.stat(current).st_ino not in watched:
                missing += 1
        except OSError:
            continue
        if not recursive or count >= limit:
            break
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(current, d))]
    return missing
