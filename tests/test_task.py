"""Tasks: names, namespaces, hashes (source vs version), options and partial application."""
import importlib.util
import pickle
import re
import textwrap

import pytest

from redun_fast import PartialTask, Scheduler, Task, TaskExpression, namespace, task


def load_module(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bare_and_parameterized_decorators():
    @task
    def bare(x):
        return x

    @task(name="renamed", namespace="lab", cpus=2, memory=4)
    def with_options(x):
        return x

    assert isinstance(bare, Task) and bare.name == "bare" and bare.func(3) == 3
    assert with_options.fullname == "lab.renamed"
    assert with_options.get_option("cpus") == 2 and with_options.get_option("memory") == 4
    assert isinstance(bare(1), TaskExpression)


def test_namespace_precedence(tmp_path):
    mod = load_module(tmp_path, "ns_module", """
        from redun_fast import task
        redun_namespace = "from_module"

        @task
        def implicit():
            return 1

        @task(namespace="explicit")
        def explicit():
            return 2
    """)
    assert mod.implicit.fullname == "from_module.implicit"
    assert mod.explicit.fullname == "explicit.explicit"

    namespace("from_call")
    try:
        @task
        def current():
            return 3

        mod2 = load_module(tmp_path, "ns_module2", """
            from redun_fast import task
            redun_namespace = "module_wins"

            @task
            def f():
                return 1
        """)
    finally:
        namespace(None)
    assert current.fullname == "from_call.current"
    assert mod2.f.fullname == "module_wins.f"

    @task
    def no_namespace():
        return 4

    assert no_namespace.namespace == "" and no_namespace.fullname == "no_namespace"


@pytest.mark.parametrize("bad", ["1abc", "a-b", "a b", ""])
def test_invalid_task_name(bad):
    with pytest.raises(ValueError, match=r"invalid task name .*Python identifier"):
        task(name=bad)(lambda: 0)


@pytest.mark.parametrize("bad", ["a..b", ".a", "a.", "a-b", "1x"])
def test_invalid_namespace(bad):
    with pytest.raises(ValueError, match=r"invalid task namespace .*dot-separated Python identifiers"):
        task(namespace=bad, name="f")(lambda: 0)
    with pytest.raises(ValueError, match="invalid task namespace"):
        namespace(bad)


# One task name in several modules, on purpose: the clash warning is tested in reliability/.
@pytest.mark.filterwarnings("ignore::redun_fast.task.TaskNameClashWarning")
def test_hash_follows_source_and_version_pins_it(tmp_path):
    def define(name, body, version=None):
        version_arg = f", version={version!r}" if version else ""
        return load_module(tmp_path, name, f"""
            from redun_fast import task

            @task(namespace="hashing"{version_arg})
            def step(x):
                return {body}
        """).step

    v1, v1_again, v2 = define("m1", "x + 1"), define("m2", "x + 1"), define("m3", "x + 2")
    assert v1.hash == v1_again.hash
    assert v1.hash != v2.hash
    pinned_a, pinned_b = define("m4", "x + 1", "7"), define("m5", "x + 2", "7")
    assert pinned_a.hash == pinned_b.hash != v1.hash
    assert define("m6", "x + 1", "8").hash != pinned_a.hash


def test_hash_covers_name_namespace_source_and_includes():
    def f(x):
        return x

    base = Task(f, namespace="a")
    assert Task(f, namespace="b").hash != base.hash
    assert Task(f, name="g", namespace="a").hash != base.hash
    assert Task(f, namespace="a", source="def f(x): return x * 2").hash != base.hash
    assert Task(f, namespace="a", hash_includes=["ref.fa"]).hash != base.hash
    assert Task(f, namespace="a", hash_includes=[1, 2]).hash == Task(
        f, namespace="a", hash_includes=[2, 1]).hash


def test_options_copy_the_task_and_keep_its_hash():
    @task(namespace="opts", cache=False, cpus=1)
    def f(x):
        return x

    g = f.options(cache=True, cpus=4, partition="short")
    assert g.hash == f.hash and g.fullname == f.fullname
    assert g.get_option("cache") is True and g.get_option("partition") == "short"
    assert f.get_option("cache") is False and f.get_option("cpus") == 1
    with pytest.raises(ValueError, match="cache='yes' must be a bool"):
        f.options(cache="yes")
    with pytest.raises(ValueError, match="executor=3 must be a str"):
        task(executor=3, name="f")(lambda: 0)


def test_partial_tasks():
    @task(namespace="part")
    def add3(a, b, c=0):
        return a + b + c

    inc = add3.partial(1)
    assert isinstance(inc, PartialTask)
    assert re.fullmatch(
        r"PartialTask\(fullname=part\.add3, hash=[0-9a-f]{8}, args=\(1,\), kwargs=\{\}\)", repr(inc))
    assert inc.hash != add3.partial(2).hash != add3.hash
    expr = inc(10, c=5)
    assert expr.task is add3 and expr.args == (1, 10) and expr.kwargs == {"c": 5}
    inc2 = inc.partial(c=3)
    assert inc2(4).args == (1, 4) and inc2(4).kwargs == {"c": 3}


def test_tasks_and_expressions_pickle_by_reference():
    @task(namespace="pickling", cpus=2)
    def f(x):
        return x

    assert pickle.loads(pickle.dumps(f)) is f
    clone = pickle.loads(pickle.dumps(f.options(cpus=8)))
    assert clone.hash == f.hash and clone.get_option("cpus") == 8
    expr = pickle.loads(pickle.dumps(f(1) + 2))
    assert repr(expr) == "SimpleExpression('add', (TaskExpression('pickling.f', (1,), {}), 2), {})"
    partial = pickle.loads(pickle.dumps(f.partial(1)))
    assert partial.hash == f.partial(1).hash


def test_an_unknown_task_option_is_an_error_naming_the_known_ones():
    def work(x):
        return x

    known = (r"the scheduler's are cache, executor, nout, limits, tags, prov, check_valid; "
             r".*use cpus, memory, gpus, time")
    with pytest.raises(ValueError, match=r"unknown task option\(s\) mem \(did you mean memory\?\): "
                                         + known):
        task(mem=4)(work)
    with pytest.raises(ValueError, match=r"unknown task option\(s\) colour: " + known):
        task(name="work")(work).options(colour="blue")
    with pytest.raises(ValueError, match=r"nout='2' must be a int"):
        task(nout="2")(work)
    with pytest.raises(ValueError, match=r"limits=\{'db': 0\} must be a list of names"):
        task(limits={"db": 0})(work)
    assert task(nout=2, limits=["db"], cpus=2, memory=4)(work).get_option("memory") == 4


def test_an_executor_kind_may_register_task_options_of_its_own(monkeypatch):
    from redun_fast import options
    from redun_fast.executors import InlineExecutor, register_executor, registry

    # Registered for this test only.
    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))
    monkeypatch.setattr(options, "_OPTIONS", dict(options.task_options()))

    class QueueExecutor(InlineExecutor):
        def __init__(self, max_workers=None, queue="default"):
            self.queue = queue

    def check_queue(value):
        if value not in ("fast", "slow"):
            raise ValueError(f"queue={value!r} must be 'fast' or 'slow'")

    register_executor("queued", QueueExecutor, task_options={"queue": (check_queue, "")},
                      label="Queue")

    @task(namespace="opts", executor="queued", queue="fast")
    def tagged(x):
        return x + 1

    assert Scheduler().run(tagged(1)) == 2  # made by kind name, on demand
    with pytest.raises(ValueError, match=r"task option queue='medium' must be 'fast' or 'slow'"):
        tagged.options(queue="medium")
    with pytest.raises(ValueError, match=r"unknown Queue option\(s\) qeue: use queue"):
        tagged.options(qeue="fast")


def test_a_parent_replays_when_only_the_child_it_calls_changed(tmp_path):
    """redun's rule: a cached expression calls its tasks as they are now."""
    from redun_fast.cache.lmdb_store import LmdbStore

    runs = []

    @task(namespace="childchange", version="1")
    def parent(x):
        runs.append("parent")
        return child(x)

    @task(namespace="childchange")
    def child(x):
        runs.append("child v1")
        return x + 1

    store = LmdbStore(str(tmp_path / "cache"))
    assert Scheduler(store=store).run(parent(1)) == 2

    @task(namespace="childchange")  # the notebook cell redefined: new code, new hash
    def child(x):  # noqa: F811
        runs.append("child v2")
        return x + 100

    assert Scheduler(store=store).run(parent(1)) == 101
    assert runs == ["parent", "child v1", "child v2"]  # the parent was replayed
    assert Scheduler(store=store).run(parent(1)) == 101 and len(runs) == 3


@task(namespace="asynctest")
async def fetch(x):
    import asyncio

    await asyncio.sleep(0.01)
    return x * 2


@pytest.mark.parametrize("executor", ["inline", "threads", "processes"])
def test_async_tasks_are_awaited_where_they_run(executor):
    with Scheduler(executor=executor) as scheduler:
        assert scheduler.run([fetch(1), fetch(2)]) == [2, 4]
    assert fetch.source.lstrip().startswith("async def fetch")  # hashed by its own source


def test_redun_executor_names_local_and_process():
    with Scheduler(executor="local", executors={"process": "process"}) as scheduler:
        assert type(scheduler.executors["default"]).__name__ == "ThreadExecutor"
        assert type(scheduler.executors["process"]).__name__ == "ProcessExecutor"
        assert scheduler.run(fetch.options(executor="process")(3)) == 6


def test_tags_are_accepted_and_checked():
    from redun_fast import apply_tags

    def same(x):
        return x

    tagged = task(tags=[("project", "qc"), "draft"], namespace="tagtest")(same)
    assert Scheduler().run(tagged(1)) == 1
    assert Scheduler().run(apply_tags(tagged(2), [("sample", "s1")])) == 2
    with pytest.raises(ValueError, match="tags='qc' must be a list of keys or"):
        task(tags="qc", namespace="tagtest", name="bad")(same)
    with pytest.raises(ValueError, match="must be a list of keys or"):
        Scheduler().run(apply_tags(1, [("a", "b", "c")]))
