"""The README's examples run as written: the quick start, the command lines, the config file."""
import os
import re
import subprocess
import sys
from pathlib import Path

from redun_fast.config import config_context, load_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_quick_start_python_block_runs(tmp_path):
    quick_start = blocks("python")[0]
    assert "from redun_fast import Scheduler, task" in quick_start
    script = tmp_path / "quick.py"
    script.write_text(quick_start + "\nprint(scheduler.run(add(add(1, 2), 3)))\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "6\n" and "| JOB STATUS" in out.stderr


def test_command_lines_run(tmp_path):
    commands = [line.split("  #")[0].strip() for block in blocks("bash")
                for line in block.splitlines() if line.startswith("redun_fast ")]
    assert len(commands) >= 8
    env = {**os.environ, "REDUN_FAST_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("REDUN_FAST_CONFIG", None)
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # what they write stays in tmp_path
    for command in commands:
        out = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, f"{command}\n{out.stderr}"
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_config_file_block_parses(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(blocks("toml")[0])
    config = load_config(path=str(path))
    assert config["scheduler.executor"][0] == "processes"
    assert config["slurm.jobs_per_element"][0] == 100
    assert config_context(str(path)) == {"bwa": {"threads": 8}}


def test_files_and_scripts_block_runs_and_a_second_run_is_cached(tmp_path):
    block = next(b for b in blocks("python") if "script(" in b)
    script = tmp_path / "files.py"
    script.write_text(block)
    runs = [subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60) for _ in range(2)]
    for out in runs:
        assert out.returncode == 0, out.stderr
    assert runs[0].stdout == runs[1].stdout == "2\n"
    assert "Run    Job" in runs[0].stderr
    assert (tmp_path / "sorted" / "reads.txt").read_text() == "ACGT\nGGCC\n"
    assert "Cached" in runs[1].stderr and "Run    Job" not in runs[1].stderr
