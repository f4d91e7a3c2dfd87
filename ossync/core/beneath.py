"""Files opened beneath their watch folder, never through a symbolic link, once.

A drop folder is written by cameras, FTP and SMB clients — and by anyone with an account
on the share. Checking a path and then opening it by name lets whoever can write there
swap a folder for a symlink in between, and ossync would read (and with `after_upload:
delete` remove) a file outside the folder. So a file is opened one component at a time
from the watch folder's own descriptor (`openat` with `O_NOFOLLOW`, `O_DIRECTORY` for
the folders on the way), once; its identity (device, inode, size, mtime) is taken with
`fstat`; every later read goes through `/proc/self/fd/N`, which reaches that very inode
whatever happens to the names; and a delete or move acts on the directory entry only
while it still names that inode (`unlinkat`/`renameat` relative to the parent's
descriptor).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO never blocks


class NotBeneath(OSError):
    """The path leaves its folder, passes a symlink, or names no regular file."""


def _parts(root: str, path: str) -> list[str]:
    """The components of `path` below `root`; NotBeneath if it is not below it."""
    base = root.rstrip("/") + "/"
    if not path.startswith(base):
        raise NotBeneath(errno.EXDEV, f"not under {root}", path)
    parts = path[len(base):].split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise NotBeneath(errno.EINVAL, "an empty, '.' or '..' component", path)
    return parts


def _open_dirs(root: str, parts: list[str]) -> int:
    """A descriptor of the folder holding the last component, reached without symlinks."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # the operator's folder
    try:
        for name in parts:
            try:
                inner = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotBeneath(exc.errno, "a symlink or a file on the way",
                                     name) from None
                raise
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


@dataclass(frozen=True)
class Identity:
    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Identity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class PinnedFile:
    """A regular file opened once beneath its folder; close it when done."""

    def __init__(self, root: str, path: str) -> None:
        self.path = path
        self._parts = _parts(root, path)
        self._root = root
        parent = _open_dirs(root, self._parts[:-1])
        try:
            try:
                self.fd = os.open(self._parts[-1], _FILE_FLAGS, dir_fd=parent)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise NotBeneath(exc.errno, "a symlink", path) from None
                raise
        finally:
            os.close(parent)
        st = os.fstat(self.fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(self.fd)
            raise NotBeneath(errno.EINVAL, "not a regular file", path)
        self.identity = Identity.of(st)

    @property
    def read_path(self) -> Path:
        """A name for this very file that no swap of folders or links can redirect."""
        return Path(f"/proc/self/fd/{self.fd}")

    def now(self) -> Identity:
        """The open file's identity now (size and mtime follow writes to it)."""
        return Identity.of(os.fstat(self.fd))

    def _entry_is_ours(self, parent: int) -> bool:
        try:
            st = os.stat(self._parts[-1], dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return (st.st_dev, st.st_ino) == (self.identity.dev, self.identity.ino)

    def unlink(self) -> bool:
        """Remove the directory entry if it still names this file; False if it does not."""
        parent = _open_dirs(self._root, self._parts[:-1])
        try:
            if not self._entry_is_ours(parent):
                return False
            os.unlink(self._parts[-1], dir_fd=parent)
            return True
        finally:
            os.close(parent)

    def move(self, dest_dir: Path, dest_name: str) -> bool:
        """Move the entry into `dest_dir` (made if missing: the operator's folder, followed
        as configured) if it still names this file; False if it does not.
        FileExistsError if `dest_name` is taken there: nothing is ever overwritten."""
        dest_dir.mkdir(parents=True, exist_ok=True)
        parent = _open_dirs(self._root, self._parts[:-1])
        try:
            target = os.open(dest_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                if not self._entry_is_ours(parent):
                    return False
                try:  # a link never replaces a name: the move cannot overwrite
                    os.link(self._parts[-1], dest_name, src_dir_fd=parent,
                            dst_dir_fd=target, follow_symlinks=False)
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    self._copy_into(target, dest_name)  # another file system
                if self._entry_is_ours(parent):
                    os.unlink(self._parts[-1], dir_fd=parent)
                return True
            finally:
                os.close(target)
        finally:
            os.close(parent)

    def _copy_into(self, folder: int, name: str) -> None:
        """This file's bytes under `name` in `folder`, whole or not at all."""
        tmp = f".{name}.ossync-move"
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600,
                      dir_fd=folder)
        try:
            offset = 0
            while chunk := os.pread(self.fd, 1 << 20, offset):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view):]
                offset += len(chunk)
            os.fchmod(out, stat.S_IMODE(os.fstat(self.fd).st_mode))
            os.fsync(out)
            os.link(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
        finally:
            os.close(out)
            os.unlink(tmp, dir_fd=folder)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> PinnedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
