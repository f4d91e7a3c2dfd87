"""A directory tree as the store: `root/<key>`, served by a web server of your own or
read as `file://` URLs.

A copy is written to a temp file in the destination folder, fsynced, then linked
into place, which fails if the name exists, so nothing is ever overwritten and
no reader sees half a file; the folder is fsynced after. A key that already holds
the same bytes (an interrupted earlier attempt) counts as success.

Of an object's options the folder keeps user metadata, tags, Cache-Control and
Content-Disposition in an extended attribute (`local_attrs`); storage class, ACL and
server-side encryption do not apply to a folder and are ignored.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import uuid
from datetime import datetime, timezone
from io import BufferedReader
from pathlib import Path

from ossync.core.addressing import object_url
from ossync.core.chunks import chunks
from ossync.core.crc64 import Crc64
from ossync.core.errors import StoreError
from ossync.core.objectopts import ObjectOptions
from ossync.core.objects import FileChanged, KeyTaken, Listed, ListPage, ObjectInfo, UploadResult
from ossync.targets import local_attrs
from ossync.targets.multipart import Journal

# Where hard links are not supported (some FUSE, SMB and FAT mounts), a rename after
# an existence check is used instead: not atomic against a second writer.
_NO_LINK = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV)


class LocalTarget:
    """Objects are files under `root`; URLs are `base_url` + key, else `file://` paths."""

    def __init__(self, root: Path, *, base_url: str | None = None) -> None:
        self.root = Path(os.path.abspath(root))
        self.base_url = base_url.rstrip("/") if base_url else None
        self._listing = local_attrs.Listing(self.root)

    def url_for(self, key: str) -> str:
        if self.base_url:
            return object_url(self.base_url, key)
        return self._path(key).as_uri()

    def close(self) -> None:
        pass

    def abandon(self, key: str, upload_id: str | None) -> None:
        """A folder has no multipart uploads: nothing is ever left behind."""

    def _path(self, key: str) -> Path:
        """`root/key`; a key that is not a plain relative path below root is refused."""
        parts = key.split("/")
        if "\0" in key or any(p in ("", ".", "..") for p in parts):
            raise StoreError("upload", key, "InvalidKey", "the key cannot be a file path under "
                             "the target folder", retryable=False)
        return self.root.joinpath(*parts)

    # --- upload ----------------------------------------------------------------

    def upload(self, path: Path, key: str, *, content_type: str,
               journal: Journal | None = None,
               options: ObjectOptions | None = None) -> UploadResult:
        """Copy the file to `root/key` with what applies of `options`; raise KeyTaken,
        FileChanged or StoreError. (A copy has nothing to resume: `journal` is not used.)"""
        dest = self._path(key)
        try:
            self._make_dirs(dest.parent)
            with path.open("rb") as src:
                tmp, md5, crc, size = self._copy_to_temp(src, dest.parent)
            try:
                local_attrs.write(tmp, local_attrs.attributes(options or ObjectOptions()))
                placed = self._place(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
            _fsync_dir(dest.parent)
        except OSError as exc:
            raise _store_error("upload", key, exc) from None
        etag = f'"{md5}"'
        if not placed:
            info = self.head(key)
            if info is None or (info.size, info.crc64) != (size, crc):
                raise KeyTaken(key)
            return UploadResult(key=key, url=self.url_for(key), size=size, etag=etag,
                                crc64=crc, already_present=True)
        return UploadResult(key=key, url=self.url_for(key), size=size, etag=etag, crc64=crc)

    def _copy_to_temp(self, src: BufferedReader, folder: Path) -> tuple[Path, str, int, int]:
        """The file's bytes in a fsynced temp file in `folder`; MD5, CRC-64 and size."""
        expected = os.fstat(src.fileno()).st_size
        tmp = folder / f".ossync-{uuid.uuid4().hex}.tmp"
        md5, crc, size = hashlib.md5(usedforsecurity=False), Crc64(), 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks(src):
                    out.write(chunk)
                    md5.update(chunk)
                    crc.update(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size != expected:
                raise FileChanged(f"file changed size while copying ({expected} → {size} bytes)")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, md5.hexdigest(), crc.value, size

    @staticmethod
    def _place(tmp: Path, dest: Path) -> bool:
        """Link the temp file in as `dest`; False if `dest` already exists."""
        try:
            os.link(tmp, dest)
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
        if dest.exists():
            return False
        os.rename(tmp, dest)
        return True

    def _make_dirs(self, folder: Path) -> None:
        """Create missing folders under root, fsyncing each parent so they survive a crash."""
        missing = []
        while not folder.is_dir() and folder != self.root:
            missing.append(folder)
            folder = folder.parent
        if not self.root.is_dir():
            raise FileNotFoundError(errno.ENOENT, "the target folder does not exist",
                                    str(self.root))
        for new in reversed(missing):
            with contextlib.suppress(FileExistsError):  # another worker made it meanwhile
                new.mkdir()
            _fsync_dir(new.parent)

    # --- head, delete ------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo | None:
        dest = self._path(key)
        crc, md5, size = Crc64(), hashlib.md5(usedforsecurity=False), 0
        try:
            with dest.open("rb") as fh:
                for chunk in chunks(fh):
                    crc.update(chunk)
                    md5.update(chunk)
                    size += len(chunk)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise _store_error("head", key, exc) from None
        attrs = local_attrs.read(dest)
        tags = attrs.get("tags") or {}
        return ObjectInfo(key=key, size=size, etag=f'"{md5.hexdigest()}"', crc64=crc.value,
                          content_type=None, metadata=attrs.get("metadata") or {},
                          tag_count=len(tags), headers=attrs.get("headers") or {},
                          last_modified=_mtime(dest))

    def tag(self, key: str, tags: tuple[tuple[str, str], ...]) -> None:
        dest = self._path(key)
        try:
            attrs = local_attrs.read(dest)
            attrs["tags"] = dict(tags)
            local_attrs.write(dest, attrs)
        except OSError as exc:
            raise _store_error("tag", key, exc) from None

    def tags_of(self, key: str) -> dict[str, str]:
        try:
            return dict(local_attrs.read(self._path(key)).get("tags") or {})
        except OSError as exc:
            raise _store_error("get tags", key, exc) from None

    def list_page(self, prefix: str, token: str | None) -> ListPage:
        """The folder's files in key order, 1000 a page (temp files of copies left out)."""
        try:
            keys, after = self._listing.page(prefix, token, 1000)
        except OSError as exc:
            raise _store_error("list", prefix, exc) from None
        listed = []
        for key in keys:
            try:
                st = self.root.joinpath(*key.split("/")).stat()
            except FileNotFoundError:
                continue
            listed.append(Listed(key, st.st_size, None, _stamp(st.st_mtime)))
        return ListPage(tuple(listed), after)

    def delete(self, key: str) -> None:
        dest = self._path(key)
        try:
            dest.unlink(missing_ok=True)
            _fsync_dir(dest.parent)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _store_error("delete", key, exc) from None


def _stamp(seconds: float) -> str:
    moment = datetime.fromtimestamp(int(seconds), timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _mtime(path: Path) -> str | None:
    try:
        return _stamp(path.stat().st_mtime)
    except OSError:
        return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _store_error(operation: str, key: str, exc: OSError) -> StoreError:
    """Disk full and I/O errors may pass; permissions and read-only mounts need a person."""
    retryable = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.ENOENT)
    hint = {errno.EACCES: "give the ossync user write access to the target folder",
            errno.EPERM: "give the ossync user write access to the target folder",
            errno.EROFS: "the target folder is on a read-only file system",
            errno.ENOSPC: "the target disk is full; will retry"}.get(exc.errno or 0, "")
    code = errno.errorcode.get(exc.errno or 0, "OSError")
    return StoreError(operation, key, code, exc.strerror or str(exc), retryable=retryable,
                      hint=hint)
