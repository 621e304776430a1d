"""get_context: the run's context, from the Scheduler, the config file, a context file and the
command line, read by tasks as default arguments; a changed value runs the calls that read it."""
import json
import os
import subprocess
import textwrap

import pytest

from redun_fast import Scheduler, get_context, task
from redun_fast._core import hash_value
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.context import get_context_value, merge_contexts, parse_context_update
from redun_fast.errors import ConfigError

redun_namespace = "contexttest"
calls = []


@task()
def align(sample, threads=get_context("bwa.threads", 1), *, mode=get_context("bwa.mode", "fast")):
    calls.append((sample, threads, mode))
    return f"{sample}: {threads} threads, {mode}"


@task()
def whole_section():
    return get_context("bwa")


@pytest.fixture(autouse=True)
def clean():
    calls.clear()


def test_a_default_argument_reads_the_context_or_its_default():
    assert Scheduler().run(align("s1")) == "s1: 1 threads, fast"
    scheduler = Scheduler(context={"bwa": {"threads": 8}})
    assert scheduler.run(align("s1")) == "s1: 8 threads, fast"
    assert scheduler.run(align("s1", 2)) == "s1: 2 threads, fast"  # given: the context is not read
    assert scheduler.run(align("s1", mode="exact")) == "s1: 8 threads, exact"
    assert scheduler.run(align("s1"), context={"bwa": {"mode": "slow"}}) == "s1: 8 threads, slow"
    assert scheduler.run(whole_section()) == {"threads": 8}


def test_context_values_are_part_of_the_eval_hash(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    Scheduler(store=store, context={"bwa": {"threads": 4}}).run(align("s1"))
    Scheduler(store=store, context={"bwa": {"threads": 4}}).run(align("s1"))
    assert len(calls) == 1  # same context: cached
    Scheduler(store=store, context={"bwa": {"threads": 6}}).run(align("s1"))
    assert calls[-1] == ("s1", 6, "fast") and len(calls) == 2


def test_unknown_keys_give_the_default_as_in_redun():
    context = {"a": {"b": 1}, "flat": 3}
    assert get_context_value(context, "a.b") == 1
    assert get_context_value(context, "a.c", "dflt") == "dflt"
    assert get_context_value(context, "flat.deeper", 0) == 0  # a path through a non-dict
    assert get_context_value(context, "missing") is None
    with pytest.raises(ValueError, match="dotted path"):
        get_context_value(context, "")


def test_merging_and_command_line_updates():
    assert merge_contexts([{"a": {"b": 1, "c": 2}}, None, {"a": {"c": 3}, "d": 4}]) == {
        "a": {"b": 1, "c": 3}, "d": 4}
    assert parse_context_update("bwa.threads=8") == {"bwa": {"threads": 8}}
    assert parse_context_update("ref=hg38.fa") == {"ref": "hg38.fa"}
    assert parse_context_update('opts={"x": [1, 2]}') == {"opts": {"x": [1, 2]}}
    for bad in ("threads", "=8", "bwa..threads=8"):
        with pytest.raises(ConfigError, match="must be KEY=VALUE"):
            parse_context_update(bad)


WORKFLOW = """
from redun_fast import get_context, task

@task
def settings(threads: int = 1, label: str = get_context("run.label", "none"),
             n=get_context("bwa.threads", 1), ref=get_context("ref", "?")):
    return f"{label} {n} {ref}"
"""


def redun_fast(folder, *args):
    env = {**os.environ, "REDUN_FAST_CACHE_DIR": str(folder / "cache"),
           "REDUN_FAST_CONFIG": str(folder / "config.toml")}
    env.pop("REDUN_FAST_CONTEXT_FILE", None)
    return subprocess.run(["redun_fast", "run", "--quiet", *args, "wf.py", "settings"],
                          cwd=folder, capture_output=True, text=True, env=env, timeout=120)


def test_the_command_line_context_file_and_config_file_in_order(tmp_path):
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    assert redun_fast(tmp_path).stdout == "none 1 ?\n"
    (tmp_path / "config.toml").write_text('[context]\nref = "hg19"\nbwa = { threads = 2 }\n')
    assert redun_fast(tmp_path).stdout == "none 2 hg19\n"
    (tmp_path / "context.json").write_text(json.dumps({"bwa": {"threads": 3}, "run": {"label": "x"}}))
    assert redun_fast(tmp_path, "--context-file", "context.json").stdout == "x 3 hg19\n"
    out = redun_fast(tmp_path, "--context-file", "context.json", "--context", "bwa.threads=9",
                     "--context", "ref=hg38")
    assert out.stdout == "x 9 hg38\n", out.stderr


def test_a_lazy_default_can_still_be_given_on_the_command_line(tmp_path):
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    out = subprocess.run(["redun_fast", "run", "--quiet", "--context", "ref=hg38", "wf.py",
                          "settings", "--label", "given"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120,
                         env={**os.environ, "REDUN_FAST_CACHE_DIR": str(tmp_path / "cache")})
    assert out.stdout == "given 1 hg38\n", out.stderr


def test_a_malformed_context_is_a_one_line_error(tmp_path):
    (tmp_path / "wf.py").write_text(textwrap.dedent(WORKFLOW))
    out = redun_fast(tmp_path, "--context", "threads")
    assert out.returncode == 2 and "--context 'threads' must be KEY=VALUE" in out.stderr
    (tmp_path / "bad.json").write_text("{not json")
    out = redun_fast(tmp_path, "--context-file", "bad.json")
    assert out.returncode == 2 and "bad.json is not valid JSON" in out.stderr
    (tmp_path / "list.json").write_text("[1, 2]")
    out = redun_fast(tmp_path, "--context-file", "list.json")
    assert out.returncode == 2 and "must hold a JSON object" in out.stderr


def test_the_context_reaches_tasks_on_the_process_pool():
    with Scheduler(executor="processes", context={"bwa": {"threads": 5}}) as scheduler:
        assert scheduler.run([align("s1"), align("s2")]) == ["s1: 5 threads, fast",
                                                             "s2: 5 threads, fast"]


# Task.update_context: a task's own context, seen by its jobs and the jobs they call.

@task()
def leaf(x, k=get_context("a.k", "unset")):
    calls.append((x, k))
    return (x, k)


@task()
def reads():
    return get_context("a.k", "unset")


@task()
def mid(x):
    return [leaf(x), reads()]


@task(executor="processes")
def mid_on_a_worker(x):
    return [leaf(x), leaf.update_context(a={"k": "inner"})(x)]


def test_update_context_reaches_the_tasks_defaults_and_the_jobs_it_calls():
    scheduler = Scheduler(context={"a": {"k": "run", "other": 1}})
    assert scheduler.run(mid(1)) == [(1, "run"), "run"]
    assert scheduler.run(mid.update_context(a={"k": "own"})(1)) == [(1, "own"), "own"]
    assert scheduler.run(mid.update_context({"a": {"k": "dict"}})(1)) == [(1, "dict"), "dict"]
    assert scheduler.run(leaf.update_context(a={"k": "leaf"})(1)) == (1, "leaf")
    merged = whole_section_of_a.update_context(a={"k": "own"}).update_context(b=2)
    assert scheduler.run(merged()) == [{"k": "own", "other": 1}, 2]  # nested dicts merged


@task()
def whole_section_of_a():
    return [get_context("a"), get_context("b")]


def test_one_call_in_two_contexts_in_one_run_is_two_jobs():
    # reads() is the same call (the same eval hash) under both: each sees its own context.
    both = [mid(1), mid.update_context(a={"k": "one"})(1), mid.update_context(a={"k": "two"})(1)]
    assert Scheduler().run(tuple(both)) == ([(1, "unset"), "unset"], [(1, "one"), "one"],
                                           [(1, "two"), "two"])


def test_a_task_with_its_own_context_is_picklable_and_works_from_a_worker():
    scheduler = Scheduler(context={"a": {"k": "run"}})
    assert scheduler.run(mid_on_a_worker(2)) == [(2, "run"), (2, "inner")]
    outer = mid_on_a_worker.update_context(a={"k": "outer"})
    assert scheduler.run(outer(2)) == [(2, "outer"), (2, "inner")]
    import pickle
    again = pickle.loads(pickle.dumps(outer))
    assert (again.context_override, again.digest, again.hash) == (
        outer.context_override, outer.digest, mid_on_a_worker.hash)


def test_a_tasks_own_context_is_part_of_its_calls_hash_and_a_rerun_is_cached(tmp_path):
    store = LmdbStore(str(tmp_path / "cache"))
    first = Scheduler(store=store)
    assert first.run(mid.update_context(a={"k": "v1"})(3)) == [(3, "v1"), "v1"]
    again = Scheduler(store=store)
    assert again.run(mid.update_context(a={"k": "v1"})(3)) == [(3, "v1"), "v1"]
    assert sum(row[-1] for row in again.job_counts.rows.values()) == 0  # nothing ran
    changed = Scheduler(store=store)
    assert changed.run(mid.update_context(a={"k": "v2"})(3)) == [(3, "v2"), "v2"]
    assert calls == [(3, "v1"), (3, "v2")]
    assert hash_value(mid.update_context(a={"k": "v1"})(3)) != hash_value(mid(3))
