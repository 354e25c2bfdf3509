"""Where a run writes: a local directory or a URI of any pyarrow filesystem (`s3://bucket/runs`,
`gs://...`). Whatever another node reads goes there (checkpoints, exports, tables, the generation
store), so nothing depends on the driver's own disk.

A URI may carry pyarrow's S3 options as a query (`s3://bucket/x?endpoint_override=host:9000&
scheme=http`, as for a MinIO or any S3-protocol server); credentials come from the environment
(`AWS_ACCESS_KEY_ID`, ...), never from the URI or the recipe."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyarrow.fs as pafs


@dataclass(frozen=True)
class Location:
    fs: pafs.FileSystem
    path: str
    """The path inside `fs` (no scheme)."""
    uri: str
    """What a user or another process is given: the local path, or the URI as written."""

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def join(self, *names: str) -> Location:
        path = "/".join([self.path.rstrip("/"), *names])
        if self.is_local:
            return Location(self.fs, path, path)
        base = urlsplit(self.uri)
        sub = "/".join([base.path.rstrip("/"), *names])
        return Location(self.fs, path, base._replace(path=sub).geturl())

    def write_bytes(self, data: bytes) -> None:
        """Written under a temporary name and moved into place where the filesystem can (an
        object store's upload is atomic by itself)."""
        parent = self.path.rsplit("/", 1)[0]
        self.fs.create_dir(parent, recursive=True)
        if self.is_local:
            tmp = f"{parent}/.tmp-{os.getpid()}-{self.path.rsplit('/', 1)[1]}"
            with self.fs.open_output_stream(tmp) as out:
                out.write(data)
            self.fs.move(tmp, self.path)
        else:
            with self.fs.open_output_stream(self.path) as out:
                out.write(data)

    def write_text(self, text: str) -> None:
        self.write_bytes(text.encode())

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.path) as fh:
            return fh.read()

    def read_text(self) -> str:
        return self.read_bytes().decode()

    def exists(self) -> bool:
        return self.fs.get_file_info(self.path).type != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        return self.fs.get_file_info(self.path).type == pafs.FileType.Directory

    def mkdir(self) -> None:
        self.fs.create_dir(self.path, recursive=True)

    def emptied(self) -> Location:
        """This directory with nothing in it, to write a table into whole: Ray Data's writes add
        files beside those there, so a rerun (`--resume`) would read an earlier run's rows twice."""
        self.fs.delete_dir_contents(self.path, missing_dir_ok=True)
        return self

    def size_bytes(self) -> int:
        """Bytes of the file, or of every file under the directory."""
        info = self.fs.get_file_info(self.path)
        if info.type != pafs.FileType.Directory:
            return info.size or 0
        return sum(
            f.size or 0
            for f in self.fs.get_file_info(pafs.FileSelector(self.path, recursive=True))
            if f.type == pafs.FileType.File
        )


def location(where) -> Location:
    """A local path (made absolute) or a filesystem URI."""
    where = str(where)
    if "://" not in where:
        path = os.path.abspath(os.path.expanduser(where))
        return Location(pafs.LocalFileSystem(), path, path)
    fs, path = pafs.FileSystem.from_uri(where)
    return Location(fs, path, where)


def local_copy(where) -> str:
    """A local directory with the contents of `where`: itself when local, else a download into a
    fresh temporary directory (for programs that read only local files, like vLLM's loader)."""
    loc = location(where)
    if loc.is_local:
        return loc.path
    target = tempfile.mkdtemp(prefix="arctic_ray-")
    pafs.copy_files(loc.path, target, source_filesystem=loc.fs, destination_filesystem=pafs.LocalFileSystem())
    return target


def remove_local_copy(where, copy: str) -> None:
    if not location(where).is_local:
        shutil.rmtree(copy, ignore_errors=True)
