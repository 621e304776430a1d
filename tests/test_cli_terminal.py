"""`redun_fast run` on a terminal (a pseudo-terminal here): the per-job lines go to the
execution's log file, the terminal shows the progress, failures and the final table."""
import os
import pty
import re
import select
import subprocess
import sys
import textwrap
import time

WORKFLOW = """
from redun_fast import task
redun_namespace = "tty"

@task
def square(x):
    return x * x

@task
def main(n: int, bad: int = -1):
    if bad >= 0:
        return [square(i) for i in range(n)] + [check(bad)]
    return [square(i) for i in range(n)]

@task
def check(x):
    raise ValueError(f"sample {x} is bad")
"""


def on_terminal(folder, *args):
    """Run `redun_fast run ...` with its stderr on a pseudo-terminal: (exit code, stdout,
    what the terminal showed)."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "redun_fast", "run", "--cache-dir", str(folder / "cache"),
         *args], cwd=folder, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    shown, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        shown.append(data)
    os.close(master)
    stdout = process.stdout.read()
    return process.wait(timeout=30), stdout, b"".join(shown).decode().replace("\r\n", "\n")


def test_on_a_terminal_job_lines_go_to_the_executions_log_file(tmp_path):
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    code, stdout, shown = on_terminal(tmp_path, "wf.py", "main", "--n", "30")
    assert code == 0, shown
    assert stdout == str([i * i for i in range(30)]) + "\n"
    assert "Run    Job" not in shown and "Cached Job" not in shown
    assert "| JOB STATUS" in shown and "| tty.square" in shown
    path = re.search(r"\[redun\] This execution's job log: (\S+\.log)", shown).group(1)
    execution_id = os.path.basename(path)[:-len(".log")]
    assert path == os.path.join(str(tmp_path / "cache"), "logs", f"{execution_id}.log")
    logged = open(path).read()
    assert logged.count("] Run    Job ") == 31  # the squares and main
    assert re.search(rf"Start Execution {execution_id}:  redun run .* wf.py main --n 30\n", logged)
    assert "| JOB STATUS" in logged
    assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == "0o700"
    shown_by_log = subprocess.run([sys.executable, "-m", "redun_fast", "log", "--cache-dir",
                                   str(tmp_path / "cache"), execution_id[:8]],
                                  capture_output=True, text=True, timeout=60).stdout
    assert f"  job log  {path}\n" in shown_by_log
    # --verbose shows them live, and a rerun logs to its own file.
    code, _, verbose = on_terminal(tmp_path, "--verbose", "wf.py", "main", "--n", "30")
    assert code == 0 and verbose.count("Cached Job ") == 31
    assert "This execution's job log" not in verbose
    assert len(os.listdir(os.path.dirname(path))) == 1


def test_on_a_terminal_a_failure_is_still_shown(tmp_path):
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    code, _, shown = on_terminal(tmp_path, "wf.py", "main", "--n", "3", "--bad", "2")
    assert code == 1
    assert "Run    Job" not in shown
    assert "*** Reject Job" in shown and "ValueError: sample 2 is bad" in shown
    path = re.search(r"job log: (\S+\.log)", shown).group(1)
    assert "Run    Job" in open(path).read()


def test_not_on_a_terminal_the_job_lines_stay_in_the_output(tmp_path):
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    out = subprocess.run([sys.executable, "-m", "redun_fast", "run", "--cache-dir",
                          str(tmp_path / "cache"), "wf.py", "main", "--n", "5"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stderr.count("Run    Job ") == 6
    assert "job log" not in out.stderr and not (tmp_path / "cache" / "logs").exists()
