"""File, Dir and their kin, on their own: the API redun documents, hashing, and clear errors."""
import os
import pickle
import shutil
import subprocess
import sys
import tempfile

import pytest

from redun_fast import ContentDir, ContentFile, Dir, File, FileSet, StagingDir, StagingFile
from redun_fast.errors import (
    FileError,
    FileIsDirectoryError,
    FileMissingError,
    FileSchemeError,
)
from redun_fast.file import IDir, IFile, copy_file, glob_file, new_run, open_file
from redun_fast.fs import FileSystem, get_filesystem, register_filesystem

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_write_read_and_the_questions_about_a_path(tmp_path):
    f = File(str(tmp_path / "sub" / "a.txt"))
    assert not f.exists()
    f.write("one\ntwo\n")  # creates the folder, as redun does
    assert f.exists() and f.isfile() and not f.isdir()
    assert f.read() == "one\ntwo\n"
    assert f.readlines() == ["one\n", "two\n"]
    assert f.read("rb") == b"one\ntwo\n"
    assert f.size() == 8 == f.stat().st_size
    assert f.basename() == "a.txt" and f.dirname() == str(tmp_path / "sub")
    f.write(b"\x00\x01", mode="wb")
    assert f.read(mode="rb") == b"\x00\x01"
    with f.open("a") as stream:
        stream.write("x")
    assert f.size() == 3
    f.remove()
    assert not f.exists()
    f.touch()
    assert f.exists() and f.size() == 0


def test_hash_follows_path_size_and_time(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("abc")
    first = File(str(path)).hash
    assert File(str(path)).hash == first  # same file, same hash
    assert File(str(tmp_path / "b.txt")).hash != first  # the path is part of it
    os.utime(path, ns=(1, 1_000_000_000))
    assert File(str(path)).hash != first  # a new time alone changes it
    path.write_text("abcd")
    assert len({first, File(str(path)).hash}) == 2


def test_a_hash_is_remembered_for_one_run_only(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("abc")
    f = File(str(path))
    before = f.hash
    path.write_text("changed, and longer")
    assert f.hash == before  # within a run the File keeps its hash
    new_run()
    assert f.hash != before  # a File kept into the next run is hashed again


def test_writing_through_the_file_updates_its_hash(tmp_path):
    f = File(str(tmp_path / "a.txt"))
    missing = f.hash
    f.write("data")
    assert f.hash != missing and f.hash == File(f.path).hash


def test_is_valid_is_false_once_the_file_changed_or_went(tmp_path):
    f = File(str(tmp_path / "a.txt"))
    f.write("data")
    stored = pickle.loads(pickle.dumps(f))
    assert stored.hash == f.hash and stored.is_valid()
    (tmp_path / "a.txt").write_text("other data")
    assert not pickle.loads(pickle.dumps(f)).is_valid()
    f.remove()
    assert not stored.is_valid()


def test_content_file_hashes_bytes_not_times(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("abc")
    first = ContentFile(str(path)).hash
    os.utime(path, ns=(1, 1_000_000_000))
    assert ContentFile(str(path)).hash == first
    path.write_text("abd")
    assert ContentFile(str(path)).hash != first
    assert ContentFile(str(path)).hash != File(str(path)).hash


def test_dir_lists_and_hashes_its_files(tmp_path):
    d = Dir(str(tmp_path / "d") + "/")
    assert d.path == str(tmp_path / "d") and not d.exists()
    d.file("b.txt").write("b")
    d.file("sub/a.txt").write("a")
    assert d.exists() and d.isdir()
    assert [f.path for f in d] == [d.path + "/b.txt", d.path + "/sub/a.txt"]
    assert [f.basename() for f in d.files()] == ["b.txt", "a.txt"]
    assert d.rel_path(d.path + "/sub/a.txt") == "sub/a.txt"
    first = d.hash
    new_run()
    assert Dir(d.path).hash == first
    d.file("sub/a.txt").write("changed")
    new_run()
    assert Dir(d.path).hash != first
    stored = pickle.loads(pickle.dumps(Dir(d.path)))
    assert stored.is_valid()
    d.file("new.txt").write("n")
    assert not stored.is_valid()
    copy = d.copy_to(Dir(str(tmp_path / "copy")))
    assert sorted(f.read() for f in copy) == ["b", "changed", "n"]
    d.rmdir(recursive=True)
    assert not d.exists()


def test_content_dir_and_fileset(tmp_path):
    (tmp_path / "x.fq").write_text("x")
    (tmp_path / "y.fq").write_text("y")
    (tmp_path / "z.txt").write_text("z")
    files = FileSet(str(tmp_path / "*.fq"))
    assert [f.basename() for f in files] == ["x.fq", "y.fq"]
    assert glob_file(str(tmp_path / "*.fq")) == [str(tmp_path / "x.fq"), str(tmp_path / "y.fq")]
    content = ContentDir(str(tmp_path))
    assert all(type(f) is ContentFile for f in content)
    first = content.hash
    os.utime(tmp_path / "x.fq", ns=(1, 1_000_000_000))
    new_run()
    assert ContentDir(str(tmp_path)).hash == first  # times do not count
    assert Dir(str(tmp_path)).hash != ContentDir(str(tmp_path)).hash


def test_staging_copies_both_ways(tmp_path):
    remote = File(str(tmp_path / "remote" / "a.txt"))
    remote.write("data")
    staged = remote.stage(str(tmp_path / "local") + "/")
    assert isinstance(staged, StagingFile) and staged.local.path == str(tmp_path / "local/a.txt")
    assert staged.stage().read() == "data"
    staged.local.write("new data")
    assert staged.unstage().read() == "new data" and remote.read() == "new data"
    assert remote.stage().local.path == "a.txt"  # the basename, where the script runs
    assert StagingFile(remote.path, remote).render_stage() == ""  # nothing to copy
    assert "cp" in staged.render_stage() and "cp" in staged.render_unstage()
    assert type(ContentFile(remote.path).stage("x").local) is ContentFile

    folder = Dir(str(tmp_path / "remote"))
    staged_dir = folder.stage(str(tmp_path / "copy"))
    assert isinstance(staged_dir, StagingDir)
    assert [f.read() for f in staged_dir.stage()] == ["new data"]


def test_staging_is_hashed_and_pickled_by_paths_only(tmp_path):
    out = File(str(tmp_path / "out.txt")).stage("out.txt")
    before = out.get_hash()
    (tmp_path / "out.txt").write_text("written")
    assert out.get_hash() == before
    again = pickle.loads(pickle.dumps(out))
    assert (again.local.path, again.remote.path) == ("out.txt", str(tmp_path / "out.txt"))


def test_open_file_and_copy_file(tmp_path):
    with open_file(str(tmp_path / "a.txt"), "w") as stream:
        stream.write("a")
    copy_file(str(tmp_path / "a.txt"), str(tmp_path / "b" / "b.txt"))
    assert File(str(tmp_path / "b" / "b.txt")).read() == "a"
    copy_file(str(tmp_path / "b"), str(tmp_path / "c"), recursive=True)
    assert File(str(tmp_path / "c" / "b.txt")).read() == "a"


def test_a_missing_file_is_a_clear_error(tmp_path):
    f = File(str(tmp_path / "missing.txt"))
    with pytest.raises(FileMissingError, match="missing.txt: it does not exist") as caught:
        f.read()
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(FileMissingError):
        f.size()
    with pytest.raises(FileMissingError):
        f.copy_to(File(str(tmp_path / "b.txt")))
    f.remove()  # removing what is not there is fine, as in redun


def test_a_directory_used_as_a_file_is_a_clear_error(tmp_path):
    f = File(str(tmp_path))
    with pytest.raises(FileIsDirectoryError, match="it is a directory; use Dir"):
        f.read()
    with pytest.raises(FileIsDirectoryError, match="use Dir"):
        f.hash
    (tmp_path / "a.txt").write_text("a")
    with pytest.raises(FileError, match="it is a file; use File"):
        Dir(str(tmp_path / "a.txt")).hash


PERMISSION_CHECK = """
import sys
from redun_fast import File
from redun_fast.errors import FilePermissionError
folder = sys.argv[1]
for path, use in ((folder + "/secret.txt", lambda f: f.read()),
                  (folder + "/locked/a.txt", lambda f: f.hash)):
    try:
        use(File(path))
    except FilePermissionError as error:
        assert "permission denied" in str(error) and path in str(error), error
    else:
        raise SystemExit("no error for " + path)
print("ok")
"""


def test_a_permission_denied_path_is_a_clear_error():
    # Root reads everything: as root (CI), the check runs without the capabilities that
    # let root ignore permissions.
    folder = tempfile.mkdtemp(prefix="redun_fast-perm-")
    try:
        os.chmod(folder, 0o755)
        with open(os.path.join(folder, "secret.txt"), "w") as stream:
            stream.write("x")
        os.chmod(os.path.join(folder, "secret.txt"), 0)
        os.mkdir(os.path.join(folder, "locked"), 0)
        command = [sys.executable, "-c", PERMISSION_CHECK, folder]
        if os.geteuid() == 0:
            command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] + command
        done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": ROOT})
        assert done.stdout.strip() == "ok", done.stderr
    finally:
        os.chmod(os.path.join(folder, "locked"), 0o700)
        shutil.rmtree(folder)


def test_a_file_where_a_folder_should_be_is_a_clear_error(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(FileError, match="cannot open"):
        File(str(tmp_path / "plain" / "a.txt")).read()


def test_unsupported_schemes_name_the_scheme():
    for url in ("s3://bucket/key.txt", "gs://bucket/key", "https://example.org/x"):
        scheme = url.split("://")[0]
        with pytest.raises(FileSchemeError, match=f"no filesystem for the scheme {scheme}://"):
            File(url)
    assert File("file:///tmp").filesystem is get_filesystem("/tmp")


def test_a_filesystem_can_be_added_for_a_scheme(tmp_path):
    @register_filesystem
    class MemoryFS(FileSystem):
        name = "memtest"
        files = {"memtest://a": b"abc"}

        def exists(self, path):
            return path in self.files

        def get_hash(self, path):
            return str(len(self.files.get(path, b"")))

    f = File("memtest://a")
    assert f.exists() and f.hash == "3" and not File("memtest://b").exists()


def test_immutable_files_are_hashed_by_path_and_always_valid(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("a")
    first = IFile(str(path)).hash
    path.write_text("changed")
    new_run()
    assert IFile(str(path)).hash == first and IFile(str(path)).is_valid()
    assert IFile(str(path)).hash != File(str(path)).hash
    assert IDir(str(tmp_path)).hash != Dir(str(tmp_path)).hash
    assert all(type(f) is IFile for f in IDir(str(tmp_path)))
