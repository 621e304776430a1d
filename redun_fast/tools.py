"""redun's tool tasks: debug_task, and parallel file copies with their provenance as jobs."""
from typing import List, TypeVar

from redun_fast.file import Dir, File
from redun_fast.task import task

T = TypeVar("T")


@task(namespace="redun", version="1", cache=False)
def debug_task(value: T) -> T:
    """Stop in pdb where the workflow reaches this value: `x = debug_task(x)` (run it on the
    inline executor, so that the debugger has your terminal)."""
    import pdb

    pdb.set_trace()
    return value


@task(namespace="redun", version="1")
def copy_file(src_file: File, dest_path: str, skip_if_exists: bool = False) -> File:
    """Copy a File to `dest_path` (into it, keeping the name, if it ends with a slash)."""
    if dest_path.endswith("/"):
        dest_path += src_file.basename()
    return src_file.copy_to(type(src_file)(dest_path), skip_if_exists=skip_if_exists)


@task(namespace="redun", version="1")
def copy_files(src_files: List[File], dest_paths: List[str], skip_if_exists: bool = False,
               copy_options: dict = {}) -> List[File]:  # noqa: B006 (redun's signature)
    """Copy Files to their paths, one job each, in parallel."""
    copy = copy_file.options(**copy_options) if copy_options else copy_file
    return [copy(src, dest, skip_if_exists) for src, dest in zip(src_files, dest_paths)]


@task(namespace="redun", version="1")
def copy_dir(src_dir: Dir, dest_path: str, skip_if_exists: bool = False,
             copy_options: dict = {}) -> Dir:  # noqa: B006 (redun's signature)
    """Copy a Dir's files to `dest_path`, one job each, in parallel."""
    files = src_dir.files()
    dest = Dir(dest_path)
    copies = copy_files(files, [dest.file(src_dir.rel_path(f.path)).path for f in files],
                        skip_if_exists, copy_options)
    return _as_dir(dest_path, copies)


@task(namespace="redun", version="1")
def _as_dir(path: str, files: List[File]) -> Dir:
    return Dir(path)


def render_template(*args, **kwargs):
    raise NotImplementedError(
        "redun_fast does not have render_template (it needs jinja2): render the template in a "
        "task of your own with jinja2, and write it to a File")
