"""`redun_fast run`, through the real console script: arguments, dry runs and user errors."""
import os
import re
import subprocess
import textwrap

import pytest

from cli_runner import redun_fast

WORKFLOW = """
from typing import List
from redun_fast import task

redun_namespace = "clirun"

@task
def square(x: int) -> int:
    with open("ran.log", "a") as log:
        log.write(f"square {x}\\n")
    return x * x

@task
def main(n: int = 3, samples: List[str] = ["a"], scale: float = 1.0, paired: bool = True,
         label: str = "run") -> dict:
    return {"squares": [square(i) for i in range(n)], "samples": samples, "scale": scale,
            "paired": paired, "label": label}
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    return tmp_path


def ran(folder):
    path = folder / "ran.log"
    return path.read_text().splitlines() if path.exists() else []


def test_arguments_are_parsed_from_the_signature(folder):
    out = redun_fast(folder, "run", "--quiet", "wf.py", "main", "--n", "4", "--samples", "a,b",
                     "c", "--no-paired", "--scale", "2.5", "--label", "x y")
    assert out.returncode == 0, out.stderr
    assert out.stdout == ("{'squares': [0, 1, 4, 9], 'samples': ['a', 'b', 'c'], "
                          "'scale': 2.5, 'paired': False, 'label': 'x y'}\n")
    assert out.stderr == ""  # --quiet: no job log lines
    defaults = redun_fast(folder, "run", "wf.py", "main")
    assert defaults.stdout.startswith("{'squares': [0, 1, 4], 'samples': ['a'], 'scale': 1.0, "
                                      "'paired': True,")
    assert "[redun] Run    Job" in defaults.stderr and "| JOB STATUS" in defaults.stderr


def test_cache_no_cache_and_executors(folder):
    assert redun_fast(folder, "run", "wf.py", "square", "--x", "7").stdout == "49\n"
    assert redun_fast(folder, "run", "wf.py", "square", "--x", "7").stdout == "49\n"
    assert ran(folder) == ["square 7"]
    assert redun_fast(folder, "run", "--no-cache", "wf.py", "square", "--x", "7").stdout == "49\n"
    assert ran(folder) == ["square 7", "square 7"]
    out = redun_fast(folder, "run", "--executor", "processes", "--max-workers", "2", "wf.py",
                     "main", "--n", "5")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("{'squares': [0, 1, 4, 9, 16],")
    # A module name works as well as a file.
    assert redun_fast(folder, "run", "--quiet", "wf", "square", "--x", "3").stdout == "9\n"


def test_dryrun_lists_what_would_run_and_runs_nothing(folder):
    redun_fast(folder, "run", "wf.py", "main", "--n", "2")
    cached = redun_fast(folder, "run", "--dryrun", "--quiet", "wf.py", "main", "--n", "2")
    assert cached.stdout.startswith("{'squares': [0, 1],")  # all cached: the result
    dry = redun_fast(folder, "run", "--dryrun", "wf.py", "square", "--x", "11")
    assert dry.returncode == 0
    assert dry.stdout == ("Dryrun: 0 jobs cached, 1 would run (and the jobs that need their "
                          "results):\n  clirun.square(x=11)\n")
    assert "[redun] Dryrun Job" in dry.stderr
    assert "square 11" not in ran(folder)


@pytest.mark.parametrize("args, message", [
    (["wf.py", "nope"], "no task 'nope' in wf; its tasks: main, square"),
    (["wf.py", "main", "--n", "abc"], "argument --n: invalid int value: 'abc'"),
    (["wf.py", "square"], "the following arguments are required: --x"),
    (["wf.py", "main", "--bogus", "1"], "unrecognized arguments: --bogus 1"),
    (["missing.py", "main"], "no such workflow file: missing.py"),
    (["no_such_module", "main"], "no such workflow file or module: no_such_module"),
])
def test_user_errors_are_one_line_and_exit_2(folder, args, message):
    out = redun_fast(folder, "run", *args)
    assert out.returncode == 2
    assert out.stderr.startswith("redun_fast run: error: ") and message in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


ODD_SIGNATURES = """
from redun_fast import task

@task(namespace="odd")
def shift(offset: float, /, scale: float = 1.0) -> float:
    return offset * scale
"""


def test_positional_only_parameters_and_negative_numbers(tmp_path):
    # `offset` (positional-only) failed with a traceback; `-inf` was "expected one argument".
    (tmp_path / "odd.py").write_text(textwrap.dedent(ODD_SIGNATURES))
    out = redun_fast(tmp_path, "run", "--quiet", "odd.py", "shift", "--offset", "-inf",
                     "--scale", "2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "-inf"
    out = redun_fast(tmp_path, "run", "--quiet", "odd.py", "shift", "--offset", "-1.5e1",
                     "--scale=-2")
    assert (out.returncode, out.stdout.strip()) == (0, "30.0")


def test_a_cache_path_that_is_not_utf8_is_named_in_the_error(tmp_path):
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    bad = os.fsdecode(bytes(tmp_path / "cache") + b"\xff")
    out = subprocess.run(["redun_fast", "--cache-dir", bad, "log"], capture_output=True,
                         timeout=120)
    assert out.returncode == 2
    assert b"is not valid UTF-8" in out.stderr and bytes(tmp_path) in out.stderr


FILE_WORKFLOW = """
from typing import List
from redun_fast import Dir, File, task

@task
def sizes(reads: File, more: List[File], out: Dir) -> list:
    return [reads.size()] + [f.size() for f in more] + [type(out).__name__]
"""


def test_file_and_dir_arguments_are_parsed_as_values(tmp_path):
    (tmp_path / "files.py").write_text(textwrap.dedent(FILE_WORKFLOW))
    (tmp_path / "a.fq").write_text("ACGT")
    (tmp_path / "b.fq").write_text("AC")
    out = redun_fast(tmp_path, "run", "--quiet", "files.py", "sizes", "--reads", "a.fq",
                     "--more", "b.fq,a.fq", "--out", "results")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "[4, 2, 4, 'Dir']\n"


ENUM_WORKFLOW = """
import enum
from redun_fast import task

class Aligner(enum.Enum):
    bwa = "bwa-mem2"
    bowtie = "bowtie2"

@task
def align(tool: Aligner = Aligner.bwa) -> str:
    return tool.value
"""


def test_enum_arguments_are_parsed_by_name_and_tasks_named_module_dot_task(tmp_path):
    (tmp_path / "enums.py").write_text(textwrap.dedent(ENUM_WORKFLOW))
    out = redun_fast(tmp_path, "run", "--quiet", "enums.py", "align", "--tool", "bowtie")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "bowtie2\n"
    out = redun_fast(tmp_path, "run", "--quiet", "enums.py", "enums.align")
    assert out.stdout == "bwa-mem2\n", out.stderr
    out = redun_fast(tmp_path, "run", "--quiet", "enums.py", "align", "--tool", "star")
    assert out.returncode == 2
    assert "'star' is not a Aligner: use one of bwa, bowtie" in out.stderr


INI_WORKFLOW = """
import os
from redun_fast import get_context, task

os.environ.setdefault("SCHEDULER_PID", str(os.getpid()))  # workers inherit the scheduler's

@task
def where(label=get_context("run.label", "none")) -> str:
    return f"{label} {os.getpid() == int(os.environ['SCHEDULER_PID'])}"

@task(executor="batch")
def elsewhere() -> bool:
    return os.getpid() == int(os.environ["SCHEDULER_PID"])
"""


def test_a_redun_projects_ini_keeps_working_with_one_warning(tmp_path):
    (tmp_path / "ini_wf.py").write_text(textwrap.dedent(INI_WORKFLOW))
    (tmp_path / ".redun").mkdir()
    (tmp_path / ".redun" / "redun.ini").write_text(textwrap.dedent("""
        [backend]
        db_uri = sqlite:///redun.db

        [scheduler]
        context = {"run": {"label": "from-ini"}}

        [executors.default]
        type = local
        max_workers = 2

        [executors.batch]
        type = local
        mode = process

        [executors.cloud]
        type = aws_batch
        queue = q
    """))
    out = redun_fast(tmp_path, "run", "ini_wf.py", "where")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "from-ini True\n"
    warnings = [line for line in out.stderr.splitlines() if "redun_fast ignores" in line]
    assert len(warnings) == 1
    assert "[backend], [executors.cloud] (type aws_batch)" in warnings[0]
    out = redun_fast(tmp_path, "run", "--quiet", "ini_wf.py", "elsewhere")
    assert out.stdout == "False\n", out.stderr  # "batch": a process pool, as its mode says
    out = redun_fast(tmp_path, "run", "--quiet", "--context", "run.label=flag", "ini_wf.py",
                     "where")
    assert out.stdout == "flag True\n"


def test_a_broken_redun_ini_is_a_one_line_error(tmp_path):
    (tmp_path / "ini_wf.py").write_text(textwrap.dedent(INI_WORKFLOW))
    (tmp_path / ".redun").mkdir()
    (tmp_path / ".redun" / "redun.ini").write_text("[scheduler]\ncontext = {not json\n")
    out = redun_fast(tmp_path, "run", "ini_wf.py", "where")
    assert out.returncode == 2 and "[scheduler] context is not valid JSON" in out.stderr


def test_rerun_runs_an_executions_root_call_again_with_overrides(folder):
    first = redun_fast(folder, "run", "wf.py", "main", "--n", "2", "--label", "first")
    assert first.returncode == 0, first.stderr
    execution_id = re.search(r"Start Execution ([0-9a-f-]{36})", first.stderr).group(1)
    again = redun_fast(folder, "run", "--quiet", "--rerun", "wf.py", execution_id[:8])
    assert again.stdout == first.stdout  # the same call, replayed from the cache
    changed = redun_fast(folder, "run", "--quiet", "--rerun", "wf.py", execution_id[:8],
                         "--n", "3")
    assert changed.stdout.startswith("{'squares': [0, 1, 4], ") and "'label': 'first'" in (
        changed.stdout)
    missing = redun_fast(folder, "run", "--rerun", "wf.py", "ffffffff")
    assert missing.returncode == 2 and "no execution matches 'ffffffff' in " in missing.stderr


def test_pdb_opens_the_debugger_at_a_failure(tmp_path):
    (tmp_path / "fails.py").write_text("from redun_fast import task\n\n@task\ndef boom():\n"
                                       "    raise ValueError('boom')\n")
    env = {**os.environ, "REDUN_FAST_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run(["redun_fast", "run", "--quiet", "--pdb", "--executor", "inline",
                          "fails.py", "boom"], cwd=tmp_path, input="p 'in the debugger'\nq\n",
                         capture_output=True, text=True, env=env, timeout=120)
    assert "Entering post-mortem debugging" in out.stderr
    assert "(Pdb)" in out.stdout and "'in the debugger'" in out.stdout
    assert out.returncode != 0 and "ValueError: boom" in out.stderr


BROKEN_WORKFLOWS = {
    "syntax.py": ("x = (\n", "syntax.py, line 1: '(' was never closed: x = ("),
    "importing.py": ("import os\nimport no_such_module_here\n",
                     "importing.py failed as it was imported: line 2: ModuleNotFoundError: No "
                     "module named 'no_such_module_here'"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_WORKFLOWS))
def test_a_workflow_that_cannot_be_imported_is_one_line_and_exit_2(tmp_path, name):
    # A syntax error came out as a full import traceback through redun_fast's frames.
    text, message = BROKEN_WORKFLOWS[name]
    (tmp_path / name).write_text(text)
    out = redun_fast(tmp_path, "run", name, "main")
    assert out.returncode == 2 and out.stderr == f"redun_fast run: error: {message}\n"


FAILING = """
import time
from redun_fast import task

redun_namespace = "clifail"

@task
def bad(x: int):
    raise ValueError(f"sample {x} is bad")

@task
def naps(n: int):
    return [nap(i) for i in range(n)]

@task
def nap(i: int):
    if i >= 2:
        time.sleep(30)
    return i
"""


@pytest.mark.parametrize("quiet", [False, True])
def test_a_failing_task_is_told_once_with_its_own_traceback_and_exit_1(tmp_path, quiet):
    # Its traceback was printed twice, the second time through redun_fast's frames.
    (tmp_path / "failing.py").write_text(FAILING)
    out = redun_fast(tmp_path, "run", *(["--quiet"] if quiet else []), "failing.py", "bad",
                     "--x", "3")
    assert out.returncode == 1
    assert out.stderr.count("Traceback (most recent call last)") == 1
    assert out.stderr.count('raise ValueError(f"sample {x} is bad")') == 1
    assert "redun_fast/" not in out.stderr.split("Traceback (most recent call last)")[1]
    assert out.stderr.endswith("redun_fast run: the run failed: ValueError: sample 3 is bad\n")


def test_ctrl_c_says_what_was_committed_and_exits_130(tmp_path):
    import signal
    import time

    (tmp_path / "failing.py").write_text(FAILING)
    env = {**os.environ, "REDUN_FAST_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(["redun_fast", "run", "--executor", "processes", "failing.py", "naps",
                             "--n", "4"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(3)  # nap(0) and nap(1) are done; nap(2) and nap(3) sleep
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == ("redun_fast run: interrupted; the 2 jobs that finished are "
                                    "committed, and a rerun resumes from them")
    assert "KeyboardInterrupt" not in err


def test_the_run_is_shown_and_recorded_as_the_command_typed(folder):
    # It was a shell-quoted TaskExpression repr; redun shows `redun run wf.py main --n 3`.
    out = redun_fast(folder, "run", "wf.py", "main", "--n", "2", "--label", "two words")
    assert out.returncode == 0, out.stderr
    start = next(line for line in out.stderr.splitlines() if "Start Execution" in line)
    assert start.endswith(":  redun run wf.py main --n 2 --label 'two words'")
    listed = redun_fast(folder, "log").stdout.splitlines()[1]
    assert listed.endswith("  run wf.py main --n 2 --label 'two words'")


OPTIONALS = """
from typing import List, Optional
from redun_fast import task

redun_namespace = "cliopt"

@task
def scaled(values: List[float], scale: Optional[float] = None, keep: Optional[List[int]] = None):
    factor = 1.0 if scale is None else scale
    return [v * factor for v in values], keep
"""


def test_optional_parameters_take_their_type_and_help_names_each_type(tmp_path):
    # `--scale 2.5` for an Optional[float] was "invalid Optional value: '2.5'".
    (tmp_path / "optionals.py").write_text(OPTIONALS)
    out = redun_fast(tmp_path, "run", "--quiet", "optionals.py", "scaled", "--values", "1", "2",
                     "--scale", "2.5", "--keep", "3", "4")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "([2.5, 5.0], [3, 4])\n"
    unset = redun_fast(tmp_path, "run", "--quiet", "optionals.py", "scaled", "--values", "1")
    assert unset.stdout == "([1.0], None)\n"
    shown = redun_fast(tmp_path, "run", "optionals.py", "scaled", "--help").stdout
    assert re.search(r"--scale SCALE +Optional\[float\], default None", shown), shown
    assert "List[float]" in shown and "Optional[List[int]], default None" in shown
