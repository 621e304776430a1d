"""File, Dir and their kin: paths as Values, hashed from what is on disk (redun's file.py API).

A File's hash is its path, size and modification time (one stat; ContentFile hashes its
bytes), a Dir's the hashes of its files. A hash travels with the File when it is pickled, so
a File a worker wrote carries the hash computed there, and a cached File is valid while the
file still has that hash (`is_valid`): otherwise the job that made it runs again.

A hash is remembered for the current run only: a File object kept from one run to the next (a
notebook, a result passed back in) is hashed again from the disk when next used, so an edit
between runs is never mistaken for the old file. `new_run()` starts a run (the Scheduler calls it).
"""
import errno
import os
from typing import IO, Any, Iterator, List, Optional

import xxhash

from redun_fast.errors import FileError
from redun_fast.fs import get_filesystem, glob_file, hash_parts
from redun_fast import runs
from redun_fast.runs import new_run  # noqa: F401  (redun's name, here too)
from redun_fast.value import Value

class DiskValue(Value):
    """A value hashed from what is on disk now (`_calc_hash`), remembered for the current run."""

    register = False
    _hash: Optional[str] = None
    _run = -1

    @property
    def hash(self) -> str:
        if self._hash is None or self._run != runs.number:
            self.update_hash()
        return self._hash

    def _calc_hash(self) -> str:
        raise NotImplementedError

    def update_hash(self) -> None:
        self._hash = self._calc_hash()
        self._run = runs.number

    def get_hash(self, data: Optional[bytes] = None) -> str:
        return self.hash

    def __redun_hash__(self) -> str:  # `hash`, without two calls: once per File argument
        if self._hash is None or self._run != runs.number:
            self.update_hash()
        return self._hash

    def is_valid(self) -> bool:
        """It is on disk as it was when it was hashed (a cached result holding it replays)."""
        if self._hash is None:
            self.update_hash()
            return True
        recorded = self._hash
        self._hash = self._calc_hash()  # (update_hash, one call fewer: once per cached File)
        self._run = runs.number
        return self._hash == recorded


class File(DiskValue):
    """A file on a local or shared filesystem, by path."""

    type_basename = "File"

    def __init__(self, path: Any) -> None:
        self.path: str = os.fspath(path)
        self.filesystem = get_filesystem(self.path)

    def _calc_hash(self) -> str:
        return self.filesystem.get_hash(self.path)

    def __getstate__(self) -> dict:
        return {"path": self.path, "hash": self.hash}

    def __setstate__(self, state: dict) -> None:
        self.path = state["path"]
        self._hash = state["hash"]
        self._run = runs.number  # computed where it was written, or checked by is_valid on replay
        self.filesystem = get_filesystem(self.path)

    def __redun_pack__(self) -> bytes:  # a File result, stored (cache/serialize.py)
        return f"{self.hash}\0{self.path}".encode("utf-8", "surrogateescape")

    @classmethod
    def __redun_unpack__(cls, data: bytes) -> "File":
        file = cls.__new__(cls)
        file._hash, file.path = data.decode("utf-8", "surrogateescape").split("\0", 1)
        file._run = runs.number
        file.filesystem = get_filesystem(file.path)
        return file

    def __repr__(self) -> str:
        return f"{self.type_basename}(path={self.path}, hash={self.hash[:8]})"

    # Reading and writing: a stream opened to write updates the hash when it is closed.

    def open(self, mode: str = "r", encoding: Optional[str] = None, **kwargs: Any) -> IO:
        stream = self.filesystem.open(self.path, mode, encoding=encoding, **kwargs)
        if any(flag in mode for flag in "wax+"):
            close = stream.close

            def close_and_hash() -> None:
                close()
                stream.close = close
                self.update_hash()

            stream.close = close_and_hash
        return stream

    def read(self, mode: str = "r", encoding: Optional[str] = None) -> Any:
        with self.open(mode, encoding=encoding) as stream:
            return stream.read()

    def readlines(self, mode: str = "r") -> List[Any]:
        with self.open(mode) as stream:
            return stream.readlines()

    def write(self, data: Any, mode: str = "w", encoding: Optional[str] = None) -> None:
        if isinstance(data, bytes) and "b" not in mode:
            mode += "b"
        with self.open(mode, encoding=encoding) as stream:
            stream.write(data)

    def touch(self, time: Optional[tuple] = None) -> None:
        self.filesystem.touch(self.path, time)
        self.update_hash()

    def remove(self) -> None:
        self.filesystem.remove(self.path)
        self.update_hash()

    def copy_to(self, dest_file: "File", skip_if_exists: bool = False) -> "File":
        if not (skip_if_exists and dest_file.exists()):
            self.filesystem.copy(self.path, dest_file.path)
            dest_file.update_hash()
        return dest_file

    # About the path.

    def exists(self) -> bool:
        return self.filesystem.exists(self.path)

    def isfile(self) -> bool:
        return self.filesystem.isfile(self.path)

    def isdir(self) -> bool:
        return self.filesystem.isdir(self.path)

    def stat(self) -> os.stat_result:
        return self.filesystem.stat(self.path)

    def size(self) -> int:
        return self.stat().st_size

    def basename(self) -> str:
        return os.path.basename(self.path)

    def dirname(self) -> str:
        return os.path.dirname(self.path)

    def stage(self, local: Optional[str] = None) -> "StagingFile":
        """This file, copied to `local` for a script (its basename, in `local/` if it ends
        with a slash); as an output, copied back from `local` after the script."""
        if not local:
            local = self.basename()
        elif local.endswith("/"):
            local = os.path.join(local, self.basename())
        return StagingFile(local, self)


class ContentFile(File):
    """A File hashed by its bytes rather than its size and time: a copy with a new time is
    the same file (costs a read of the whole file per hash)."""

    type_basename = "ContentFile"

    def _calc_hash(self) -> str:
        if not self.filesystem.exists(self.path):  # not written yet: hashed as missing
            return hash_parts(self.type_basename, self.path, "missing")
        digest = xxhash.xxh3_128()
        with self.filesystem.open(self.path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        return hash_parts(self.type_basename, self.path, digest.hexdigest())


class FileSet(DiskValue):
    """The files matching a glob pattern (`**` recursive), hashed from their hashes."""

    type_basename = "FileSet"
    file_type = File

    def __init__(self, pattern: str) -> None:
        self.pattern = os.fspath(pattern)
        self.filesystem = get_filesystem(self.pattern)

    def _calc_hash(self) -> str:
        return hash_parts(self.type_basename, self.pattern, *(file.hash for file in self))

    def __getstate__(self) -> dict:
        return {"pattern": self.pattern, "hash": self.hash}

    def __setstate__(self, state: dict) -> None:
        self.pattern = state["pattern"]
        self._hash = state["hash"]
        self._run = runs.number
        self.filesystem = get_filesystem(self.pattern)

    def __iter__(self) -> Iterator[File]:
        for path in glob_file(self.pattern):
            if self.filesystem.isfile(path):
                yield self.file_type(path)

    def files(self) -> List[File]:
        return list(self)

    def iter_subvalues(self) -> Iterator[Value]:
        return iter(self)

    def __repr__(self) -> str:
        return f"{self.type_basename}(pattern={self.pattern}, hash={self.hash[:8]})"


class Dir(FileSet):
    """A folder: its hash comes from the hashes of every file under it."""

    type_basename = "Dir"

    def __init__(self, path: Any) -> None:
        self.path = os.fspath(path).rstrip("/") or "/"
        super().__init__(os.path.join(self.path, "**"))

    def _calc_hash(self) -> str:
        if self.filesystem.isfile(self.path):
            raise FileError(errno.ENOTDIR, f"cannot hash Dir({self.path!r}): it is a file; "
                            "use File(path) for a file")
        hashes = [self.file_type(path).hash for path in self.filesystem.walk_files(self.path)]
        return hash_parts(self.type_basename, self.path, *hashes)

    def __getstate__(self) -> dict:
        return {"path": self.path, "hash": self.hash}

    def __setstate__(self, state: dict) -> None:
        self.path = state["path"]
        super().__setstate__({"pattern": os.path.join(self.path, "**"), "hash": state["hash"]})

    def __iter__(self) -> Iterator[File]:
        for path in self.filesystem.walk_files(self.path):
            yield self.file_type(path)

    def __repr__(self) -> str:
        return f"{self.type_basename}(path={self.path}, hash={self.hash[:8]})"

    def exists(self) -> bool:
        return self.filesystem.isdir(self.path)

    def isdir(self) -> bool:
        return self.filesystem.isdir(self.path)

    def mkdir(self) -> None:
        self.filesystem.mkdir(self.path)
        self.update_hash()

    def rmdir(self, recursive: bool = False) -> None:
        self.filesystem.rmdir(self.path, recursive)
        self.update_hash()

    def file(self, rel_path: str) -> File:
        return self.file_type(os.path.join(self.path, rel_path))

    def rel_path(self, path: str) -> str:
        return os.path.relpath(path, self.path)

    def copy_to(self, dest_dir: "Dir", skip_if_exists: bool = False) -> "Dir":
        for src_file in self:
            src_file.copy_to(dest_dir.file(self.rel_path(src_file.path)), skip_if_exists)
        dest_dir.update_hash()
        return dest_dir

    def stage(self, local: Optional[str] = None) -> "StagingDir":
        return StagingDir(local or os.path.basename(self.path), self)


class ContentDir(Dir):
    """A Dir whose files are ContentFiles."""

    type_basename = "ContentDir"
    file_type = ContentFile


class IFile(File):
    """An immutable file (written once, never changed): hashed by its path alone, and always
    valid, so it costs no stat."""

    type_basename = "IFile"

    def _calc_hash(self) -> str:
        return hash_parts(self.type_basename, self.path)

    def is_valid(self) -> bool:
        return True


class IDir(Dir):
    """A Dir of immutable files: hashed by its path alone."""

    type_basename = "IDir"
    file_type = IFile

    def _calc_hash(self) -> str:
        return hash_parts(self.type_basename, self.path)

    def is_valid(self) -> bool:
        return True


class StagingFile(Value):
    """A file copied between `local` (where a script reads or writes it) and `remote` (where it
    lives): `stage()` copies remote to local, `unstage()` local to remote."""

    type_basename = "StagingFile"
    path_type = File
    recursive = False  # its shell copy copies a folder

    def __init__(self, local: Any, remote: Any) -> None:
        self.remote = remote if isinstance(remote, self.path_type) else self.path_type(remote)
        # A path given as a str becomes a path of the remote's kind (a ContentFile's stays one).
        self.local = local if isinstance(local, self.path_type) else type(self.remote)(local)

    def get_hash(self, data: Optional[bytes] = None) -> str:
        return hash_parts(self.type_basename, self.local.path, self.remote.path)

    # A pair of paths: its Files are stored without their hashes, so a cached result that
    # names an output yet to be written is not taken for a stale one.
    def __getstate__(self) -> dict:
        return {"local": self.local.path, "remote": self.remote.path,
                "kind": type(self.remote)}

    def __setstate__(self, state: dict) -> None:
        self.remote = state["kind"](state["remote"])
        self.local = type(self.remote)(state["local"])

    def __repr__(self) -> str:  # paths only: hashing where it is shown would be meaningless
        return f"{self.type_basename}(local={self.local.path}, remote={self.remote.path})"

    def _same(self) -> bool:
        # As written: a relative local path may be relative to a script's temporary folder.
        return self.local.path == self.remote.path

    def stage(self) -> Any:
        return self.local if self._same() else self.remote.copy_to(self.local)

    def unstage(self) -> Any:
        return self.remote if self._same() else self.local.copy_to(self.remote)

    def _remote_path(self) -> str:
        # The local path may be relative to a script's temporary folder; the remote is
        # relative to where the workflow runs.
        remote = self.remote.path
        return os.path.abspath(remote) if self.remote.filesystem.name == "local" else remote

    def render_stage(self) -> str:
        """The shell command that stages the file ("" when local is remote)."""
        return "" if self._same() else self.remote.filesystem.shell_copy(
            self._remote_path(), self.local.path, recursive=self.recursive)

    def render_unstage(self) -> str:
        """The shell command that copies the file back ("" when local is remote)."""
        return "" if self._same() else self.local.filesystem.shell_copy(
            self.local.path, self._remote_path(), recursive=self.recursive)


class StagingDir(StagingFile):
    """A folder copied between `local` and `remote` (see StagingFile)."""

    type_basename = "StagingDir"
    path_type = Dir
    recursive = True


def open_file(url: str, mode: str = "r", encoding: Optional[str] = None, **kwargs: Any) -> IO:
    return get_filesystem(url).open(url, mode, encoding=encoding, **kwargs)


def copy_file(src_path: str, dest_path: str, recursive: bool = False) -> None:
    if recursive:
        Dir(src_path).copy_to(Dir(dest_path))
    else:
        File(src_path).copy_to(File(dest_path))


__all__ = ["ContentDir", "ContentFile", "Dir", "DiskValue", "File", "FileSet", "IDir", "IFile",
           "StagingDir", "StagingFile", "copy_file", "glob_file", "new_run", "open_file"]
