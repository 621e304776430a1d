"""Tags: @task(tags=...), apply_tags and `redun_fast run --tag` are kept in the run's record;
`redun_fast log` shows them and finds executions by them. And redun's other `run` spellings:
-p, --doc, -u, -o, --execution-id, -i."""
import json
import os
import pickle
import textwrap
import uuid

import pytest

from cli_runner import redun_fast
from redun_fast import Scheduler, apply_tags, task
from redun_fast._core import hash_value
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.tags import matches, parse_tag, run_tags

redun_namespace = "tagstest"


@task(tags=[("stage", "qc"), "draft"])
def leaf(x):
    return apply_tags(x * 2, [("kind", "doubled")], job_tags=[("sample", f"s{x}")])


@task()
def main():
    return apply_tags([leaf(1), leaf(2)], execution_tags=[("batch", 7)])


def test_task_job_value_and_execution_tags_are_kept_in_the_runs_record(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    scheduler = Scheduler(store=store)
    assert scheduler.run(main(), tags=[("env", "prod")]) == [2, 4]
    tags = store.execution(scheduler.execution_id).tags
    assert tags["execution"] == [["env", "prod"], ["batch", 7]]
    assert tags["tasks"] == {"tagstest.leaf": [["stage", "qc"], ["draft", None]]}
    jobs = {f"{record.job_id:016x}": record for record in store.job_records(scheduler.execution_id)}
    # job_tags label the job whose result held the apply_tags: each leaf job
    assert sorted((jobs[job_id].task_name, pairs) for job_id, pairs in tags["jobs"].items()) == [
        ("tagstest.leaf", [["sample", "s1"]]), ("tagstest.leaf", [["sample", "s2"]])]
    assert tags["values"] == {hash_value(2): [["kind", "doubled"]],
                              hash_value(4): [["kind", "doubled"]]}
    again = Scheduler(store=store)  # replayed from the cache: the tags are applied again
    assert again.run(main()) == [2, 4]
    assert store.execution(again.execution_id).tags["execution"] == [["batch", 7]]
    assert len(store.execution(again.execution_id).tags["jobs"]) == 2


def test_a_run_without_tags_records_none_and_bad_tags_fail_the_run():
    scheduler = Scheduler()
    assert scheduler.run(leaf.options(tags=[])(1)) == 2
    assert run_tags([], [], {}) is None
    with pytest.raises(ValueError, match=r"tags=\[\('a', 'b', 'c'\)\] must be a list of keys"):
        scheduler.run(apply_tags(1, [("a", "b", "c")]))


def test_parsing_and_matching():
    assert parse_tag("n=3") == ("n", 3) and parse_tag("env=prod") == ("env", "prod")
    assert parse_tag("env", value_required=False) == ("env", None)
    with pytest.raises(ValueError, match="must be KEY=VALUE"):
        parse_tag("env")
    record = run_tags([("env", "prod")], [(5, 1, [("kind", "x")], [("sample", "s1")], [])], {})
    assert matches(record, [("env", "prod"), ("sample", "s1")])
    assert matches(record, [("kind", None)]) and not matches(record, [("env", "dev")])
    assert not matches(None, [("env", "prod")])


WORKFLOW = """
from redun_fast import apply_tags, task

redun_namespace = "tagscli"

@task(tags=[("stage", "qc")])
def count(n: int, label: str = "x") -> str:
    with open("ran.log", "a") as log:
        log.write(f"count {n}\\n")
    return apply_tags(f"{label}:{n}", job_tags=[("n", n)])
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    return tmp_path


def test_run_tags_the_execution_and_log_finds_it_by_them(folder):
    out = redun_fast(folder, "run", "--quiet", "-t", "env=prod", "--tag", "n=3", "-p", "rnaseq",
                     "--doc", "first try", "-u", "ana", "wf.py", "count", "--n", "3")
    assert out.returncode == 0, out.stderr
    assert redun_fast(folder, "run", "--quiet", "-t", "env=dev", "wf.py", "count",
                      "--n", "4").returncode == 0
    listed = json.loads(redun_fast(folder, "log", "--json").stdout)
    first = next(e for e in listed if "--n 3" in e["call"])
    assert first["tags"]["execution"] == [["user", "ana"], ["project", "rnaseq"],
                                          ["doc", "first try"], ["env", "prod"], ["n", 3]]
    assert first["tags"]["tasks"] == {"tagscli.count": [["stage", "qc"]]}
    found = redun_fast(folder, "log", "--tag", "env=prod").stdout.splitlines()
    assert len(found) == 2 and first["id"][:8] in found[1]  # the header and the one execution
    assert len(redun_fast(folder, "log", "--tag", "env").stdout.splitlines()) == 3  # any value
    assert len(redun_fast(folder, "log", "-t", "env=prod", "-t", "n=4").stdout.splitlines()) == 1
    shown = redun_fast(folder, "log", first["id"][:8]).stdout
    assert ("  tags     execution: user=ana, project=rnaseq, doc=first try, env=prod, n=3\n"
            "           task tagscli.count: stage=qc\n") in shown
    assert "           job " in shown and ": n=3\n" in shown
    bad = redun_fast(folder, "run", "-t", "envprod", "wf.py", "count", "--n", "1")
    assert bad.returncode == 2
    assert "argument -t/--tag: tag 'envprod' must be KEY=VALUE, such as env=prod" in bad.stderr


def test_run_takes_the_users_name_as_its_user_tag_by_default(folder):
    import getpass

    assert redun_fast(folder, "run", "--quiet", "wf.py", "count", "--n", "1").returncode == 0
    execution, = json.loads(redun_fast(folder, "log", "--json").stdout)
    assert execution["tags"]["execution"] == [["user", getpass.getuser()]]


def test_option_overrides_the_root_tasks_options(folder):
    assert redun_fast(folder, "run", "--quiet", "wf.py", "count", "--n", "2").returncode == 0
    assert redun_fast(folder, "run", "--quiet", "wf.py", "count", "--n", "2").returncode == 0
    assert (folder / "ran.log").read_text() == "count 2\n"  # cached
    out = redun_fast(folder, "run", "--quiet", "-o", "cache=false", "wf.py", "count", "--n", "2")
    assert out.returncode == 0, out.stderr
    assert (folder / "ran.log").read_text() == "count 2\ncount 2\n"  # cache=false: ran again
    bad = redun_fast(folder, "run", "-o", "cpu=2", "wf.py", "count", "--n", "2")
    assert bad.returncode == 2 and "-o/--option: unknown task option(s) cpu (did you mean cpus?)" \
        in bad.stderr


def test_execution_id_is_taken_as_given_once(folder):
    given = str(uuid.uuid4())
    assert redun_fast(folder, "run", "--quiet", "--execution-id", given, "wf.py", "count",
                      "--n", "1").returncode == 0
    assert json.loads(redun_fast(folder, "log", "--json").stdout)[0]["id"] == given
    again = redun_fast(folder, "run", "--execution-id", given, "wf.py", "count", "--n", "1")
    assert again.returncode == 2 and f"execution id {given} is taken" in again.stderr
    bad = redun_fast(folder, "run", "--execution-id", "12", "wf.py", "count", "--n", "1")
    assert bad.returncode == 2 and "execution id '12' must be a UUID" in bad.stderr


def test_input_file_gives_the_arguments_and_the_command_line_overrides_them(folder):
    with open(folder / "args.pkl", "wb") as stream:
        pickle.dump(((5,), {"label": "file"}), stream)
    out = redun_fast(folder, "run", "--quiet", "-i", "args.pkl", "wf.py", "count")
    assert (out.returncode, out.stdout) == (0, "file:5\n"), out.stderr
    out = redun_fast(folder, "run", "--quiet", "--input", "args.pkl", "wf.py", "count",
                     "--label", "cli")
    assert (out.returncode, out.stdout) == (0, "cli:5\n"), out.stderr
    (folder / "bad.pkl").write_text("not a pickle")
    bad = redun_fast(folder, "run", "-i", "bad.pkl", "wf.py", "count")
    assert bad.returncode == 2 and "must be a pickle of (args, kwargs)" in bad.stderr


def test_the_default_user_tag_is_the_uid_where_there_is_no_user_name(monkeypatch):
    import argparse
    import getpass

    from redun_fast.cli_run import execution_tags

    def no_name():
        raise KeyError("getpwuid(): uid not found: 4242")

    monkeypatch.setattr(getpass, "getuser", no_name)
    args = argparse.Namespace(user=None, project=None, doc=None, tag=[])
    assert execution_tags(args) == [("user", str(os.getuid()))]
