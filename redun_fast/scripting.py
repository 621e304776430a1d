"""script(): a shell command as a task, with files staged in and out (redun's scripting API).

`script(command, inputs=..., outputs=..., tempdir=..., **task_options)` is one job of the task
redun.script, run by the task's executor (threads, processes, Slurm). The job stages its
inputs, runs the command with bash's `set -euo pipefail` (or the command's own `#!`
interpreter), unstages its outputs and returns `outputs` with each staged file replaced by its
File, hashed where it was written; with no outputs, the command's stdout (bytes).

Caching is redun's reactive caching on one job: the call is hashed with the input Files'
hashes, so a changed input runs it again; its result holds the output Files, so a changed or
deleted output runs it again (cache/serialize.py checks them on replay). A command that fails
raises ScriptError with its exit code and the end of its stderr, and nothing is cached.
"""
import os
import shlex
import shutil
import subprocess
import tempfile
import textwrap
from typing import Any, List

from redun_fast.errors import FileMissingError, ScriptError
from redun_fast.file import Dir, File, StagingDir, StagingFile
from redun_fast.task import task
from redun_fast.value import iter_nested_value, map_nested_value

DEFAULT_SHELL = "#!/usr/bin/env bash\nset -euo pipefail"
STDOUT = "-"  # File("-") as an output: the command's stdout
STDERR_LINES = 20  # of a failed command's stderr, in its ScriptError
_NULL = object()
_STAGED = (StagingFile, StagingDir)


def prepare_command(command: Any, default_shell: str = DEFAULT_SHELL) -> str:
    """The command as a script: dedented, stripped, given the default shell unless it names
    an interpreter with `#!`; a list is an argv, quoted."""
    if isinstance(command, (list, tuple)):
        command = shlex.join(str(part) for part in command)
    command = textwrap.dedent(command).strip()
    if not command.startswith("#!"):
        command = default_shell.rstrip("\n") + "\n" + command
    return command


def _remote(value: Any) -> Any:
    """A staged value's remote path, as a fresh File or Dir of its kind."""
    return type(value.remote)(value.remote.path) if isinstance(value, _STAGED) else value


def _as_staged(value: Any, tempdir: bool) -> Any:
    """An output File as a StagingFile, hashed by its path (not by a file yet to be written):
    written where it is, or, in a temporary folder, written there when it is relative and
    copied back to that path relative to where the workflow runs."""
    if not isinstance(value, (File, Dir)) or value.path == STDOUT:
        return value
    remote = os.path.abspath(value.path) if tempdir else value.path
    staging = StagingFile if isinstance(value, File) else StagingDir
    return staging(value.path, type(value)(remote))


def _tail(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").rstrip("\n").splitlines()
    return "\n".join(lines[-STDERR_LINES:])


def _run(command: str, inputs: Any, outputs: Any, tempdir: bool) -> Any:
    """Stage, run, unstage; the outputs as Files, or stdout."""
    workdir = tempfile.mkdtemp(prefix="redun_fast-script-") if tempdir else None
    fd, command_file = tempfile.mkstemp(prefix="redun_fast-command-", dir=workdir)
    try:
        with os.fdopen(fd, "w") as stream:
            stream.write(command + "\n")
        os.chmod(command_file, 0o700)
        staged_outputs = [value for value in iter_nested_value(outputs) if isinstance(value, _STAGED)]
        steps: List[str] = ["set -euo pipefail"]
        steps += [value.render_stage() for value in iter_nested_value(inputs)
                  if isinstance(value, _STAGED)]
        steps.append(shlex.quote(command_file))
        steps += [value.render_unstage() for value in staged_outputs]
        process = subprocess.run(["bash", "-c", "\n".join(step for step in steps if step)],
                                 cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            os.remove(command_file)
    if process.returncode != 0:
        raise ScriptError(f"script exited with code {process.returncode}; the end of its "
                          f"stderr:\n{_tail(process.stderr)}", process.returncode, process.stderr)
    return map_nested_value(lambda value: _output(value, process.stdout), outputs)


def _output(value: Any, stdout: bytes) -> Any:
    if isinstance(value, File) and value.path == STDOUT:
        return stdout
    value = _remote(value)
    if isinstance(value, (File, Dir)):
        if not value.exists():
            raise FileMissingError(2, f"the script did not write its output {value.path}: "
                                   "check that the command writes every path named in outputs")
        value.update_hash()  # hashed here, where it was written
    return value


@task(name="script", namespace="redun", version="1")
def script_task(command: str, inputs: Any, input_files: Any, outputs: Any,
                tempdir: bool = False) -> Any:
    """The job of a script() call; `input_files` are the inputs' remote Files, so that the
    call's hash follows their contents."""
    return _run(command, inputs, outputs, tempdir)


def script(command: Any, inputs: Any = (), outputs: Any = _NULL, tempdir: bool = False,
           **task_options: Any) -> Any:
    """Run a shell command as a task (see the module's docstring). `inputs` and `outputs`
    are nested values holding Files, Dirs and their `stage(local)` forms; `task_options`
    are task options such as `executor="slurm"` or `memory=4`."""
    if outputs is _NULL:
        outputs = File(STDOUT)
    outputs = map_nested_value(lambda value: _as_staged(value, tempdir), outputs)
    job = script_task.options(**task_options) if task_options else script_task
    return job(prepare_command(command), inputs, map_nested_value(_remote, inputs), outputs,
               tempdir)


def exec_script(command: str) -> bytes:
    """Run a prepared command here and now; its stdout (redun's helper, for tests)."""
    return _run(command, (), File(STDOUT), False)


__all__ = ["ScriptError", "exec_script", "prepare_command", "script", "script_task"]
