"""Filesystems by path scheme: where a File's bytes live, and the errors that name the path.

Local and shared (NFS, Lustre, GPFS) paths are one filesystem, "local". Another scheme is
added by a FileSystem subclass with a `name` (its scheme) and `register_filesystem`; until
then a path such as s3://bucket/key is a FileSchemeError that names the scheme.
"""
import errno
import glob as _glob
import os
import shlex
import shutil
import stat
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Type, TypeVar

import xxhash

from redun_fast.errors import (
    FileError,
    FileIsDirectoryError,
    FileMissingError,
    FilePermissionError,
    FileSchemeError,
)

_Result = TypeVar("_Result")


_xxh3_hex = xxhash.xxh3_128_hexdigest


def hash_parts(*parts: str) -> str:
    """The hex hash of a few strings (paths may hold any bytes: surrogates are kept)."""
    return _xxh3_hex("\0".join(parts).encode("utf-8", "surrogateescape"))


def get_proto(url: str) -> str:
    """The scheme of `url` ("s3" for s3://b/k), "local" for a path (file:// included)."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme == "file":
        return "local"
    return scheme


def local_path(url: str) -> str:
    """A local path without its file:// prefix, if it had one."""
    return url[len("file://"):] if url.startswith("file://") else url


def explained(error: OSError, path: str, doing: str) -> OSError:
    """The OSError of `doing` on `path`, as the FileError that says what to do."""
    if isinstance(error, FileError):
        return error
    if isinstance(error, FileNotFoundError):
        return FileMissingError(errno.ENOENT, f"cannot {doing} {path}: it does not exist "
                                "(check the path, or the task that should have written it)")
    if isinstance(error, IsADirectoryError):
        return FileIsDirectoryError(errno.EISDIR, f"cannot {doing} {path}: it is a directory; "
                                    "use Dir(path) for a directory")
    if isinstance(error, PermissionError):
        return FilePermissionError(errno.EACCES, f"cannot {doing} {path}: permission denied "
                                   "(check the permissions of the file and of its folders)")
    return FileError(error.errno, f"cannot {doing} {path}: {error.strerror or error}")


def checked(path: str, doing: str, action: Callable[[], _Result]) -> _Result:
    """action(), with its OSError explained."""
    try:
        return action()
    except OSError as error:
        raise explained(error, path, doing) from error


class FileSystem:
    """The operations File and Dir need; paths are given as the user wrote them."""

    name = "base"

    def open(self, path: str, mode: str = "r", encoding: Optional[str] = None, **kwargs: Any) -> IO:
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def stat(self, path: str) -> os.stat_result:
        raise NotImplementedError

    def get_hash(self, path: str) -> str:
        """A cheap hash of the file at `path` as it is now (one stat)."""
        raise NotImplementedError

    def isfile(self, path: str) -> bool:
        raise NotImplementedError

    def isdir(self, path: str) -> bool:
        raise NotImplementedError

    def remove(self, path: str) -> None:
        raise NotImplementedError

    def touch(self, path: str, time: Optional[tuple] = None) -> None:
        raise NotImplementedError

    def mkdir(self, path: str) -> None:
        raise NotImplementedError

    def rmdir(self, path: str, recursive: bool = False) -> None:
        raise NotImplementedError

    def copy(self, src_path: str, dest_path: str) -> None:
        raise NotImplementedError

    def glob(self, pattern: str) -> List[str]:
        raise NotImplementedError

    def walk_files(self, path: str) -> Iterator[str]:
        """Every file under the folder `path`, in sorted order."""
        raise NotImplementedError

    def shell_copy(self, src_path: str, dest_path: str, recursive: bool = False) -> str:
        """A shell command that copies src to dest (what script() stages with)."""
        raise NotImplementedError


class LocalFileSystem(FileSystem):
    """The POSIX filesystem of this machine, shared filesystems included."""

    name = "local"

    def open(self, path: str, mode: str = "r", encoding: Optional[str] = None, **kwargs: Any) -> IO:
        path = local_path(path)
        if "w" in mode or "a" in mode or "x" in mode:
            folder = os.path.dirname(path)
            if folder:
                checked(folder, "create the folder", lambda: os.makedirs(folder, exist_ok=True))
        return checked(path, "open", lambda: open(path, mode, encoding=encoding, **kwargs))

    def exists(self, path: str) -> bool:
        return os.path.exists(local_path(path))

    def stat(self, path: str) -> os.stat_result:
        return checked(path, "read the status of", lambda: os.stat(local_path(path)))

    def get_hash(self, path: str) -> str:
        # Once per File replayed from the cache: one stat, and no call that is not needed.
        try:
            info = os.stat(path[7:] if path.startswith("file://") else path)
        except FileNotFoundError:  # not written yet (a script's output): hashed as missing
            size = mtime = -1
        except OSError as error:
            raise explained(error, path, "hash") from error
        else:
            if stat.S_ISDIR(info.st_mode):
                raise FileIsDirectoryError(
                    errno.EISDIR, f"cannot hash File({path!r}): it is a directory, whose own "
                    "size and time do not change with its files; use Dir(path)")
            size, mtime = info.st_size, info.st_mtime_ns
        return _xxh3_hex(f"File\0local\0{path}\0{size}\0{mtime}".encode("utf-8", "surrogateescape"))

    def isfile(self, path: str) -> bool:
        return os.path.isfile(local_path(path))

    def isdir(self, path: str) -> bool:
        return os.path.isdir(local_path(path))

    def remove(self, path: str) -> None:
        try:
            os.remove(local_path(path))
        except FileNotFoundError:
            pass
        except OSError as error:
            raise explained(error, path, "remove") from error

    def touch(self, path: str, time: Optional[tuple] = None) -> None:
        if self.exists(path):
            checked(path, "touch", lambda: os.utime(local_path(path), time))
        else:
            self.open(path, "a").close()
            if time is not None:
                os.utime(local_path(path), time)

    def mkdir(self, path: str) -> None:
        checked(path, "create", lambda: os.makedirs(local_path(path), exist_ok=True))

    def rmdir(self, path: str, recursive: bool = False) -> None:
        path = local_path(path)
        if os.path.isdir(path):
            checked(path, "remove", lambda: shutil.rmtree(path) if recursive else os.rmdir(path))

    def copy(self, src_path: str, dest_path: str) -> None:
        dest = local_path(dest_path)
        folder = os.path.dirname(dest)
        if folder:
            checked(folder, "create the folder", lambda: os.makedirs(folder, exist_ok=True))
        checked(src_path, "copy", lambda: shutil.copyfile(local_path(src_path), dest))

    def glob(self, pattern: str) -> List[str]:
        return sorted(_glob.glob(local_path(pattern), recursive=True))

    def walk_files(self, path: str) -> Iterator[str]:
        root = local_path(path)
        for folder, subfolders, files in os.walk(root):
            subfolders.sort()
            for name in sorted(files):
                yield os.path.join(folder, name)

    def shell_copy(self, src_path: str, dest_path: str, recursive: bool = False) -> str:
        src, dest = shlex.quote(local_path(src_path)), shlex.quote(local_path(dest_path))
        if recursive:
            return f"mkdir -p {dest} && cp -r {src}/. {dest}"
        return f"mkdir -p \"$(dirname {dest})\" && cp {src} {dest}"


_filesystems: Dict[str, FileSystem] = {}


def register_filesystem(cls: Type[FileSystem]) -> Type[FileSystem]:
    """Make paths with the scheme `cls.name` use `cls` (usable as a class decorator)."""
    _filesystems[cls.name] = cls()
    return cls


def get_filesystem(url: str) -> FileSystem:
    """The filesystem of `url`'s scheme; FileSchemeError for one that has none."""
    if "://" not in url:  # a plain path, the common case: once per File unpickled
        return _filesystems["local"]
    proto = get_proto(url)
    filesystem = _filesystems.get(proto)
    if filesystem is None:
        raise FileSchemeError(
            errno.EPROTONOSUPPORT,
            f"{url}: redun_fast has no filesystem for the scheme {proto}:// (it supports local "
            f"and shared-filesystem paths: {', '.join(sorted(_filesystems))}); copy the data to a "
            "shared filesystem, or register a FileSystem for it (redun_fast.fs.register_filesystem)")
    return filesystem


def glob_file(pattern: str) -> List[str]:
    """The paths matching `pattern` on its filesystem (`**` matches folders recursively), sorted."""
    return get_filesystem(pattern).glob(pattern)


register_filesystem(LocalFileSystem)
