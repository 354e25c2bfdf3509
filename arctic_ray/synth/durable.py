"""Writing a file so that a crash (or a power loss) leaves the whole file or nothing.

On a local disk a rename alone is not enough: after a power loss the directory entry may point at
a file whose data never reached the disk. So the data is written under a temporary name and
fsynced, renamed into place, and then the directory is fsynced so the rename itself is durable.
What a power loss can still lose is only what was not yet renamed (the write in progress).
On an object store (`s3://`, `gs://`, ...) an upload becomes visible whole once it returns and
the store keeps it durably; there is nothing to fsync, so the pyarrow filesystem's own
atomic upload is used."""

from __future__ import annotations

import os
import uuid

import pyarrow.fs as pafs


def write_atomic(fs: pafs.FileSystem, path: str, data: bytes, fsync: bool = True) -> None:
    """`path` holds `data` whole, or (after a crash) whatever it held before. `fsync=False`:
    still whole-or-nothing after a process crash, but a power loss may lose it (for logs whose
    write sits on a hot path and whose loss costs only a count)."""
    if isinstance(fs, pafs.LocalFileSystem):
        _write_local(path, data, fsync)
        return
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    with fs.open_output_stream(tmp) as out:
        out.write(data)
    fs.move(tmp, path)


def _write_local(path: str, data: bytes, fsync: bool) -> None:
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}-{name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)  # the data is on disk before any name points at it
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if not fsync:
        return
    dir_fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power loss
    finally:
        os.close(dir_fd)
