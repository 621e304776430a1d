"""script(): shell commands as tasks, with staged Files and reactive caching (threads and the
process pool here; Slurm in test_slurm.py)."""
import glob
import logging
import os
import tempfile

import pytest

from redun_fast import Dir, File, Scheduler, script, task
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.errors import FileMissingError, ScriptError
from redun_fast.scripting import prepare_command

redun_namespace = "scripttest"


@pytest.fixture(params=["threads", "processes"])
def scheduler(request, tmp_path):
    scheduler = Scheduler(executor=request.param, store=LmdbStore(str(tmp_path / "cache")))
    yield scheduler
    scheduler.close()


def script_runs(scheduler):
    return scheduler.job_counts.rows.get("redun.script", [0] * 6)[-1]


def test_stdout_is_the_result_when_no_outputs_are_named(scheduler):
    assert scheduler.run(script("echo hello; echo world")) == b"hello\nworld\n"
    assert scheduler.run(script(["printf", "%s-", "a b", "c"])) == b"a b-c-"


def test_a_command_with_its_own_interpreter(scheduler):
    command = """
        #!/usr/bin/env python3
        import sys
        print("from python", sys.version_info[0])
    """
    assert scheduler.run(script(command)) == b"from python 3\n"


@pytest.mark.parametrize("command", ["false\necho after", "echo $UNSET_VARIABLE_X",
                                     "false | cat\necho after"])
def test_bash_stops_at_the_first_error_unset_variable_or_failed_pipe(scheduler, command):
    with pytest.raises(ScriptError, match="exited with code 1"):
        scheduler.run(script(command))


def test_a_failing_command_names_its_exit_code_and_stderr_and_is_never_cached(scheduler):
    command = "echo first >&2; echo 'sample S3 has no reads' >&2; exit 3"
    for _ in range(2):
        with pytest.raises(ScriptError) as caught:
            scheduler.run(script(command))
        assert caught.value.returncode == 3
        assert "exited with code 3" in str(caught.value)
        assert str(caught.value).endswith("first\nsample S3 has no reads")
    assert script_runs(scheduler) == 0  # both runs ran it, neither cached it
    assert scheduler.job_counts.rows["redun.script"][2] == 2  # FAILED twice


def test_inputs_are_staged_outputs_returned_as_files_in_a_temporary_folder(scheduler, tmp_path):
    reads = tmp_path / "reads.fq"
    reads.write_text("ACGT\nGGCC\n")
    out = tmp_path / "results" / "count.txt"
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "redun_fast-script-*")))
    result = scheduler.run(script(
        "wc -l < in.fq > count.txt; pwd > where.txt",
        inputs=[File(str(reads)).stage("in.fq")],
        outputs={"count": File(str(out)).stage("count.txt")},
        tempdir=True,
    ))
    assert isinstance(result["count"], File) and result["count"].path == str(out)
    assert out.read_text().strip() == "2"
    assert result["count"].hash == File(str(out)).hash
    after = set(glob.glob(os.path.join(tempfile.gettempdir(), "redun_fast-script-*")))
    assert after == before  # the temporary folder is gone


def test_a_relative_output_in_a_temporary_folder_comes_back_where_the_workflow_runs(
        scheduler, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = scheduler.run(script("echo made > made.txt", outputs=File("made.txt"), tempdir=True))
    assert result.path == str(tmp_path / "made.txt") and result.read() == "made\n"


def test_reactive_a_second_run_is_cached_a_changed_input_or_lost_output_runs_again(
        scheduler, tmp_path):
    reads = tmp_path / "reads.fq"
    reads.write_text("ACGT\n")
    out = tmp_path / "upper.fq"

    def run():
        return scheduler.run(script(f"tr a-z A-Z < {reads} > {out}; echo ran",
                                    inputs=[File(str(reads))], outputs=File(str(out))))

    run()
    assert script_runs(scheduler) == 1
    run()
    assert script_runs(scheduler) == 1  # cached
    reads.write_text("acgt\n")
    run()
    assert script_runs(scheduler) == 2 and out.read_text() == "ACGT\n"
    out.unlink()
    run()
    assert script_runs(scheduler) == 3 and out.exists()


def test_an_output_the_script_did_not_write_is_a_clear_error_and_not_cached(scheduler, tmp_path):
    promised = tmp_path / "never.txt"
    for _ in range(2):
        with pytest.raises(FileMissingError, match="did not write its output .*never.txt"):
            scheduler.run(script("echo busy", outputs=File(str(promised))))
    assert scheduler.job_counts.rows["redun.script"][2] == 2


def test_task_options_choose_the_executor(tmp_path, caplog):
    scheduler = Scheduler(executors={"pool": "processes"})
    caplog.set_level(logging.INFO, logger="redun_fast")
    assert scheduler.run(script("echo $$", executor="pool")) != str(os.getpid()).encode()
    assert any("redun.script(" in line and line.endswith("on pool") for line in caplog.messages)
    scheduler.close()


@task()
def per_sample(path):
    return script(f"wc -c < {path}", inputs=[File(path)])


def test_a_script_returned_by_a_task(scheduler, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("12345")
    assert scheduler.run(per_sample(str(path))).strip() == b"5"


def test_prepare_command_dedents_and_adds_the_default_shell():
    assert prepare_command("\n    echo a\n      echo b\n") == (
        "#!/usr/bin/env bash\nset -euo pipefail\necho a\n  echo b")
    assert prepare_command("#!/bin/sh\necho a") == "#!/bin/sh\necho a"


def test_a_folder_output(scheduler, tmp_path):
    folder = tmp_path / "made"
    result = scheduler.run(script("mkdir -p out/sub; echo a > out/a.txt; echo b > out/sub/b.txt",
                                  outputs=Dir(str(folder)).stage("out"), tempdir=True))
    assert isinstance(result, Dir) and sorted(f.read() for f in result) == ["a\n", "b\n"]
    with pytest.raises(FileMissingError, match="did not write its output"):
        scheduler.run(script("echo none", outputs=Dir(str(tmp_path / "never"))))
