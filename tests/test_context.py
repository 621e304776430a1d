"""get_context: the run's context, from the Scheduler, the config file, a context file and the
command line, read by tasks as default arguments; a changed value runs the calls that read it."""
import json
import os
import subprocess
import textwrap

import pytest

from redun_fast import Scheduler, get_context, task
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
