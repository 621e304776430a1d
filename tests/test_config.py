"""Settings: flag > environment > config file > default, `redun_fast config`, and bad files."""
import os
import subprocess
import textwrap

import pytest

from redun_fast.config import ConfigError, executor_settings, load_config


def write_config(folder, text):
    (folder / ".redun_fast").mkdir(exist_ok=True)
    (folder / ".redun_fast" / "config.toml").write_text(textwrap.dedent(text))


def test_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("REDUN_FAST_EXECUTOR", "REDUN_FAST_MAX_WORKERS", "REDUN_FAST_CACHE_DIR",
                 "REDUN_FAST_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert load_config()["scheduler.executor"] == ("threads", "default")
    write_config(tmp_path, """
        [scheduler]
        executor = "processes"
        max_workers = 3
        [slurm]
        partition = "short"
        jobs_per_element = 50
    """)
    config = load_config()
    assert config["scheduler.executor"] == ("processes", "config .redun_fast/config.toml")
    assert executor_settings(config, "slurm") == {"partition": "short", "jobs_per_element": 50}
    monkeypatch.setenv("REDUN_FAST_EXECUTOR", "inline")
    monkeypatch.setenv("REDUN_FAST_MAX_WORKERS", "7")
    config = load_config()
    assert config["scheduler.executor"] == ("inline", "environment REDUN_FAST_EXECUTOR")
    assert config["scheduler.max_workers"] == (7, "environment REDUN_FAST_MAX_WORKERS")
    config = load_config({"scheduler.executor": "slurm"})
    assert config["scheduler.executor"] == ("slurm", "flag")


@pytest.mark.parametrize("text, message", [
    ("[scheduler]\nexecuter = 'threads'\n", "unknown setting scheduler.executer; known: "),
    ("[scheduler]\nmax_workers = 'many'\n", "scheduler.max_workers = 'many' must be a int"),
    ("[scheduler\n", "is not valid TOML"),
    ("executor = 'threads'\n", "executor = ... must be inside a [section]"),
])
def test_bad_config_files(tmp_path, text, message):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_config(path=str(path))
    out = subprocess.run(["redun_fast", "--config", str(path), "config"], capture_output=True,
                         text=True, cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and message in out.stderr


def test_config_command_and_run_use_the_file(tmp_path):
    write_config(tmp_path, """
        [scheduler]
        executor = "nope"
    """)
    env = {key: value for key, value in os.environ.items() if not key.startswith("REDUN_FAST_")}
    out = subprocess.run(["redun_fast", "config"], capture_output=True, text=True, cwd=tmp_path,
                         env=env)
    assert "scheduler.executor         'nope'" in out.stdout
    assert "(config .redun_fast/config.toml)" in out.stdout
    # It used to accept the typo with exit 0; `run` then refused it.
    assert out.returncode == 2
    assert ("redun_fast: error: scheduler.executor = 'nope' (config .redun_fast/config.toml): "
            "unknown executor 'nope': use one of inline, processes, slurm, threads") in out.stderr
    (tmp_path / "wf.py").write_text(textwrap.dedent("""
        from redun_fast import task

        @task(namespace="cfg")
        def one():
            return 1
    """))
    run = subprocess.run(["redun_fast", "run", "wf.py", "one"], capture_output=True, text=True,
                         cwd=tmp_path, env=env)
    assert run.returncode == 2 and "unknown executor 'nope'" in run.stderr
    flag = subprocess.run(["redun_fast", "run", "--quiet", "--executor", "inline", "wf.py", "one"],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert flag.returncode == 0 and flag.stdout == "1\n"


@pytest.mark.parametrize("text, message", [
    ('[scheduler]\nexecutor = "processes"\nmax_workers = 0\n',
     "scheduler.executor = 'processes' (config .redun_fast/config.toml), scheduler.max_workers"
     " = 0 (config .redun_fast/config.toml): max_workers=0 must be a positive integer"),
    ('[slurm]\nmax_workers = 0\n',
     "the [slurm] settings slurm.max_workers (config .redun_fast/config.toml): max_workers=0 "
     "must be a positive integer"),
    ('[slurm]\nmode = "pilots"\n', "mode='pilots' is not a Slurm executor mode"),
])
def test_config_checks_every_executor_section_as_run_would(tmp_path, text, message):
    write_config(tmp_path, text)
    env = {key: value for key, value in os.environ.items() if not key.startswith("REDUN_FAST_")}
    out = subprocess.run(["redun_fast", "config"], capture_output=True, text=True, cwd=tmp_path,
                         env=env)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert "scheduler.executor" in out.stdout  # the table, to see where each value came from


def test_a_good_config_passes_the_check(tmp_path):
    write_config(tmp_path, '[scheduler]\nexecutor = "slurm"\n[slurm]\npartition = "short"\n'
                           'max_workers = 4\n')
    env = {key: value for key, value in os.environ.items() if not key.startswith("REDUN_FAST_")}
    out = subprocess.run(["redun_fast", "config"], capture_output=True, text=True, cwd=tmp_path,
                         env=env)
    assert out.returncode == 0 and out.stderr == ""
