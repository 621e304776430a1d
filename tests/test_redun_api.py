"""redun's user-facing names under the same module names: what a redun program imports exists,
works, or says clearly why it is not supported."""
import importlib
import pickle

import pytest

from redun_fast import File, Scheduler, task
from redun_fast.expression import ValueExpression
from redun_fast.functools import no_prov, starmap

redun_namespace = "apitest"

# module -> names a redun program imports from it
REDUN_NAMES = {
    "redun_fast": ["File", "Dir", "Scheduler", "task", "script", "get_context", "cond", "catch",
                   "throw", "apply_tags", "namespace", "PartialTask", "Task", "run", "Handle",
                   "ShardedS3Dataset", "get_current_namespace", "get_current_scheduler",
                   "set_current_scheduler", "merge_handles", "LocalExecutor", "register_executor",
                   "AWSBatchExecutor", "AWSGlueExecutor", "DockerExecutor", "GCPBatchExecutor",
                   "K8SExecutor", "AliasExecutor"],
    "redun_fast.file": ["File", "Dir", "FileSet", "ContentFile", "ContentDir", "IFile", "IDir",
                        "StagingFile", "StagingDir", "glob_file", "open_file", "copy_file"],
    "redun_fast.value": ["Value", "ProxyValue", "get_type_registry", "InvalidValueError"],
    "redun_fast.scripting": ["script", "ScriptError", "prepare_command", "exec_script"],
    "redun_fast.context": ["get_context"],
    "redun_fast.functools": ["map_", "starmap", "flat_map", "flatten", "seq", "compose", "const",
                             "delay", "force", "eval_", "zip_", "identity", "as_task",
                             "apply_func", "no_prov"],
    "redun_fast.expression": ["Expression", "TaskExpression", "SchedulerExpression",
                              "SimpleExpression", "ValueExpression", "QuotedExpression", "quote"],
    "redun_fast.namespace": ["namespace", "get_current_namespace"],
    "redun_fast.hashing": ["hash_struct", "hash_bytes", "hash_text", "hash_tag_bytes",
                           "hash_stream"],
    "redun_fast.scheduler": ["Scheduler", "catch_all", "cond", "catch", "throw", "apply_tags",
                             "get_current_scheduler", "set_current_scheduler", "subrun",
                             "fork_thread", "join_thread", "merge_handles", "JobInfo", "Job",
                             "get_current_job"],
    "redun_fast.tools": ["debug_task", "copy_file", "copy_files", "copy_dir", "render_template"],
    "redun_fast.pytest": ["scheduler"],
}


@pytest.mark.parametrize("module", sorted(REDUN_NAMES))
def test_every_module_a_redun_program_imports_has_its_names(module):
    imported = importlib.import_module(module)
    missing = [name for name in REDUN_NAMES[module] if not hasattr(imported, name)]
    assert missing == []


@pytest.mark.parametrize("name, why", [("LocalExecutor", "chosen by kind"),
                                       ("register_executor", "chosen by kind"),
                                       ("AWSBatchExecutor", "on a Slurm cluster"),
                                       ("K8SExecutor", "on a Slurm cluster"),
                                       ("AliasExecutor", "many names")])
def test_redun_executor_classes_say_how_executors_are_chosen_here(name, why):
    import redun_fast

    with pytest.raises(NotImplementedError, match=f"redun_fast does not support {name}: .*{why}"):
        getattr(redun_fast, name)("name")


@pytest.mark.parametrize("name, why", [("subrun", "executor="), ("fork_thread", "Handles"),
                                       ("join_thread", "Handles"), ("merge_handles", "Handles"),
                                       ("get_current_job", "job_info: JobInfo")])
def test_unsupported_names_say_so_and_why(name, why):
    from redun_fast import scheduler as module

    with pytest.raises(NotImplementedError, match=f"redun_fast does not support {name}: .*{why}"):
        getattr(module, name)()
    from redun_fast.tools import render_template

    with pytest.raises(NotImplementedError, match="jinja2"):
        render_template("x.j2")


@task()
def total(values):
    return sum(values)


@task()
def add(a, b):
    return a + b


@task()
def row(a):
    return {"a": a, "b": 10}


def test_value_expression_lifts_a_value():
    expr = ValueExpression([1, 2, 3])
    assert repr(expr) == "ValueExpression([1, 2, 3])" and expr.value == [1, 2, 3]
    assert repr(pickle.loads(pickle.dumps(expr))) == repr(expr)
    assert Scheduler().run(total(expr)) == 6
    with pytest.raises(TypeError, match="concrete value"):
        ValueExpression(total([1]))


def test_starmap_takes_lazy_rows_and_no_prov_evaluates_its_expression():
    scheduler = Scheduler()
    assert scheduler.run(starmap(add, [row(1), {"a": 2, "b": 3}])) == [11, 5]
    assert scheduler.run(starmap(add, [{"a": 1, "b": 1}])) == [2]
    assert scheduler.run(no_prov(add(1, 2))) == 3


def test_redun_task_options_prov_and_check_valid_are_accepted():
    def same(x):
        return x

    assert Scheduler().run(task(prov=False, check_valid="shallow", name="opts")(same)(4)) == 4
    with pytest.raises(ValueError, match="check_valid='deep' must be one of full, shallow"):
        task(check_valid="deep", name="opts2")(same)


def test_hashing_helpers():
    from redun_fast.hashing import hash_bytes, hash_stream, hash_struct, hash_tag_bytes, hash_text

    assert hash_struct({"a": 1, "b": [2]}) == hash_struct({"b": [2], "a": 1})
    assert hash_struct([1]) != hash_struct((1,))
    assert hash_text("abc") == hash_bytes(b"abc") and len(hash_text("abc")) == 32
    assert hash_tag_bytes("File", b"abc") != hash_tag_bytes("Dir", b"abc")
    import io

    assert hash_stream(io.BytesIO(b"abc" * 1000)) == hash_bytes(b"abc" * 1000)


def test_namespace_helpers():
    from redun_fast.namespace import get_current_namespace, namespace

    namespace("lab.qc")
    try:
        assert get_current_namespace() == "lab.qc"
    finally:
        namespace()
    assert get_current_namespace() == ""


@task()
def who_runs_me():
    from redun_fast.scheduler import get_current_scheduler

    return get_current_scheduler()


def test_get_current_scheduler_in_the_schedulers_thread():
    from redun_fast.scheduler import get_current_scheduler
    from redun_fast.errors import SchedulerError

    scheduler = Scheduler(executor="inline")
    assert scheduler.run(who_runs_me()) is scheduler
    assert get_current_scheduler(required=False) is None
    with pytest.raises(SchedulerError, match="no scheduler is running"):
        get_current_scheduler()


def test_tools_copy_files_and_dirs_as_jobs(tmp_path):
    from redun_fast import Dir
    from redun_fast.tools import copy_dir, copy_file, copy_files

    src = File(str(tmp_path / "a.txt"))
    src.write("a")
    scheduler = Scheduler()
    assert scheduler.run(copy_file(src, str(tmp_path / "out") + "/")).read() == "a"
    copies = scheduler.run(copy_files([src], [str(tmp_path / "b.txt")]))
    assert [f.read() for f in copies] == ["a"]
    Dir(str(tmp_path / "d")).file("x/y.txt").write("y")
    copied = scheduler.run(copy_dir(Dir(str(tmp_path / "d")), str(tmp_path / "d2")))
    assert [f.read() for f in copied] == ["y"] and copied.path == str(tmp_path / "d2")


def test_the_pytest_plugin_gives_a_scheduler_fixture(scheduler):
    assert isinstance(scheduler, Scheduler) and scheduler.run(add(1, 2)) == 3


def test_handles_and_s3_datasets_say_why_they_are_not_supported():
    from redun_fast import Handle, ShardedS3Dataset

    with pytest.raises(NotImplementedError, match="does not support Handle"):
        Handle("db")
    with pytest.raises(NotImplementedError, match="no s3:// filesystem"):
        ShardedS3Dataset("s3://bucket/data")


def test_run_uses_a_scheduler_from_the_config_and_keeps_it(tmp_path, monkeypatch):
    import redun_fast

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REDUN_FAST_CACHE_DIR", raising=False)
    monkeypatch.delenv("REDUN_FAST_CONFIG", raising=False)
    monkeypatch.setattr(redun_fast, "_schedulers", {})
    assert redun_fast.run(add(1, 2)) == 3
    assert redun_fast.run(add(1, 2), cache=False) == 3 and len(redun_fast._schedulers) == 1
    assert (tmp_path / ".redun_fast" / "data.mdb").exists()
    redun_fast._schedulers[None].close()
