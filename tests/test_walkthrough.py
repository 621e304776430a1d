"""The redun scheduler walkthrough (shared/spec/redun-scheduler-walkthrough.txt), cell by cell.

Like the notebook, the cells share one module and run in order: later cells rely on what the
scheduler cached in earlier ones (e.g. which `add` calls print "start"). Job ids, execution
ids, timestamps, object addresses, durations (and on the pool, the executor's name) are
masked; everything else must match.
The 1-second `add` of the notebook sleeps SLEEP seconds here, to keep the suite quick.
The whole notebook runs once per executor: threads (the default) and processes.
"""
import logging
import re
import time

import pytest

from redun_fast import Scheduler, task

SLEEP = 0.3

redun_namespace = "redun_notebook"

JOB_ID = r"[0-9a-f]{8}"


def log_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "redun_fast"]


def mask(line):
    """Mask what differs between runs: ids, addresses, timestamps, durations."""
    line = re.sub(r"Execution [0-9a-f-]{36}", "Execution <id>", line)
    line = re.sub(r"Job [0-9a-f]{8}", "Job <id>", line)
    line = re.sub(r"eval_hash=[0-9a-f]{8}", "eval_hash=<hash>", line)
    line = re.sub(r"object at 0x[0-9a-f]+", "object at <addr>", line)
    line = re.sub(r"JOB STATUS \d{4}/\d\d/\d\d \d\d:\d\d:\d\d", "JOB STATUS <time>", line)
    line = re.sub(r"duration: \d+\.\d\d seconds", "duration: <t> seconds", line)
    # Run on the pool, the notebook's default executor is named by its kind: "on processes"
    # where redun's threads say "on default".
    line = re.sub(r" on processes$", " on default", line)
    return line


def expected(text):
    """The walkthrough's `[redun] ...` lines, masked, without the prefix."""
    lines = [line[len("[redun] "):] for line in text.strip("\n").split("\n")]
    return [mask(line) for line in lines]


def status_table(caplog):
    lines = [mask(line) for line in log_lines(caplog)]
    start = lines.index("| JOB STATUS <time>")
    return lines[start - 1:]


def new_scheduler(nb):
    if nb["executor"] == "processes":
        # As many workers as redun's default threads, so the sleeping adds overlap alike.
        return Scheduler(executor="processes", max_workers=20)
    return Scheduler()


@pytest.fixture(scope="module", params=["threads", "processes"])
def nb(request):
    """The notebook's global namespace: scheduler and tasks defined so far."""
    namespace = {"executor": request.param}
    yield namespace
    for value in namespace.values():
        if isinstance(value, Scheduler):
            value.close()


def test_in2_scheduler_logger(nb):
    scheduler = new_scheduler(nb)
    scheduler.logger.setLevel(logging.INFO)
    assert isinstance(scheduler.logger, logging.Logger)
    nb["scheduler"] = scheduler


def test_in3_in4_task_repr(nb):
    @task()
    def add(a, b):
        return a + b

    nb["add"] = add
    assert re.fullmatch(r"Task\(fullname=redun_notebook\.add, hash=[0-9a-f]{8}\)", repr(add))


def test_in5_task_properties(nb):
    add = nb["add"]
    assert add.name == "add"
    assert re.fullmatch(r"[0-9a-f]{32}", add.hash)
    assert repr(add).endswith(f"hash={add.hash[:8]})")
    assert re.fullmatch(r"<function .*add at 0x[0-9a-f]+>", str(add.func))
    assert add.source == "def add(a, b):\n    return a + b\n"


def test_in6_in8_task_expression_reprs(nb):
    add = nb["add"]
    assert repr(add(1, 2)) == "TaskExpression('redun_notebook.add', (1, 2), {})"
    assert repr(add(add(1, 2), 3)) == (
        "TaskExpression('redun_notebook.add', "
        "(TaskExpression('redun_notebook.add', (1, 2), {}), 3), {})"
    )


def test_in7_run_one_task(nb, caplog):
    caplog.set_level(logging.INFO, logger="redun_fast")
    assert nb["scheduler"].run(nb["add"](1, 2)) == 3
    assert [mask(line) for line in log_lines(caplog)] == expected("""
[redun] Start Execution 0f9c60b3-89b6-4fcd-b9ad-3c271a74e3f6:  redun 'TaskExpression('"'"'redun_notebook.add'"'"', (1, 2), {})'
[redun] Run    Job 437dae71:  redun_notebook.add(a=1, b=2) on default
[redun] 
[redun] | JOB STATUS 2022/04/27 16:36:47
[redun] | TASK               PENDING RUNNING  FAILED  CACHED    DONE   TOTAL
[redun] | 
[redun] | ALL                      0       0       0       0       1       1
[redun] | redun_notebook.add       0       0       0       0       1       1
[redun] 
[redun] Execution duration: 0.04 seconds
""")


def test_in11_expression_tree_cached(nb, caplog):
    scheduler, add = nb["scheduler"], nb["add"]
    # The notebook ran two cells (In[9], In[10]) that it later deleted; their counts show in
    # In[11]'s table. These two runs reproduce them: 2 root jobs, 1 cached and 3 new adds.
    assert scheduler.run(add(add(1, 2), 3)) == 6
    assert scheduler.run(add(add(2, 3), 4)) == 9
    caplog.clear()
    assert scheduler.run(add(add(1, 2), 3)) == 6
    assert [mask(line) for line in log_lines(caplog)] == expected("""
[redun] Start Execution 90a49a83-f685-4928-9096-d161078ec71d:  redun 'TaskExpression('"'"'redun.root_task'"'"', (<redun.expression.QuotedExpression object at 0x7fa090286e20>,), {})'
[redun] Cached Job 87c72e97:  redun.root_task(expr=<redun.expression.QuotedExpression object at 0x7fa090286e20>) (eval_hash=beb19b56)
[redun] Cached Job 956e4a66:  redun_notebook.add(a=1, b=2) (eval_hash=a162a83f)
[redun] Cached Job 1f7f2900:  redun_notebook.add(a=3, b=3) (eval_hash=27dfaec4)
[redun] 
[redun] | JOB STATUS 2022/04/27 16:37:40
[redun] | TASK               PENDING RUNNING  FAILED  CACHED    DONE   TOTAL
[redun] | 
[redun] | ALL                      0       0       0       4       6      10
[redun] | redun.root_task          0       0       0       1       2       3
[redun] | redun_notebook.add       0       0       0       3       4       7
[redun] 
[redun] Execution duration: 0.03 seconds
""")


def test_in13_in14_versioned_task(nb):
    unversioned = nb["add"]

    @task(version="1")
    def add(a, b):
        print(f"start add({a}, {b})")
        time.sleep(SLEEP)
        print(f"stop  add({a}, {b})")
        return a + b

    nb["add"] = add
    assert add.source == (
        "def add(a, b):\n"
        '    print(f"start add({a}, {b})")\n'
        "    time.sleep(SLEEP)\n"
        '    print(f"stop  add({a}, {b})")\n'
        "    return a + b\n"
    )
    assert re.fullmatch(r"[0-9a-f]{32}", add.hash)
    assert add.hash != unversioned.hash


def test_in15_independent_tasks_run_in_parallel(nb, caplog, capsys):
    caplog.set_level(logging.INFO, logger="redun_fast")
    add = nb["add"]
    nb["scheduler"].close()
    scheduler = nb["scheduler"] = new_scheduler(nb)
    assert scheduler.run(add(add(1, 2), add(3, 4))) == 10

    printed = capsys.readouterr().out.split("\n")
    # Two starts before any stop: add(1, 2) and add(3, 4) overlapped.
    assert sorted(printed[:2]) == ["start add(1, 2)", "start add(3, 4)"]
    assert printed[4:6] == ["start add(3, 7)", "stop  add(3, 7)"]
    lines = [mask(line) for line in log_lines(caplog)]
    assert lines[:2] == expected("""
[redun] Start Execution df0c5f2d-3bd5-4a38-b2a4-e10eba5c03ac:  redun 'TaskExpression('"'"'redun.root_task'"'"', (<redun.expression.QuotedExpression object at 0x7fa0c068f940>,), {})'
[redun] Run    Job 857d825b:  redun.root_task(expr=<redun.expression.QuotedExpression object at 0x7fa0c068f940>) on default
""")
    assert sorted(lines[2:4]) == expected("""
[redun] Run    Job 80d4aa09:  redun_notebook.add(a=1, b=2) on default
[redun] Run    Job 4a4de46b:  redun_notebook.add(a=3, b=4) on default
""")
    assert lines[4:] == expected("""
[redun] Run    Job 72131e56:  redun_notebook.add(a=3, b=7) on default
[redun] 
[redun] | JOB STATUS 2022/04/27 16:38:15
[redun] | TASK               PENDING RUNNING  FAILED  CACHED    DONE   TOTAL
[redun] | 
[redun] | ALL                      0       0       0       0       4       4
[redun] | redun.root_task          0       0       0       0       1       1
[redun] | redun_notebook.add       0       0       0       0       3       3
[redun] 
[redun] Execution duration: 2.08 seconds
""")


def test_in16_in17_task_returning_expressions(nb, caplog, capsys):
    add = nb["add"]

    @task()
    def add4(a, b, c, d):
        return add(add(a, b), add(c, d))

    nb["add4"] = add4
    caplog.set_level(logging.INFO, logger="redun_fast")
    assert nb["scheduler"].run(add4(5, 6, 7, 8)) == 26
    printed = capsys.readouterr().out.split("\n")
    assert sorted(printed[:2]) == ["start add(5, 6)", "start add(7, 8)"]
    assert printed[4:6] == ["start add(11, 15)", "stop  add(11, 15)"]
    lines = [mask(line) for line in log_lines(caplog)]
    assert lines[:2] == expected("""
[redun] Start Execution d12b0029-c71e-43c1-8647-b6628d20ab21:  redun 'TaskExpression('"'"'redun_notebook.add4'"'"', (5, 6, 7, 8), {})'
[redun] Run    Job 46f3fdca:  redun_notebook.add4(a=5, b=6, c=7, d=8) on default
""")
    assert sorted(lines[2:4]) == expected("""
[redun] Run    Job 253320ed:  redun_notebook.add(a=5, b=6) on default
[redun] Run    Job db923a81:  redun_notebook.add(a=7, b=8) on default
""")
    assert lines[4:] == expected("""
[redun] Run    Job c897a0c1:  redun_notebook.add(a=11, b=15) on default
[redun] 
[redun] | JOB STATUS 2022/04/27 16:39:56
[redun] | TASK                PENDING RUNNING  FAILED  CACHED    DONE   TOTAL
[redun] | 
[redun] | ALL                       0       0       0       0       8       8
[redun] | redun.root_task           0       0       0       0       1       1
[redun] | redun_notebook.add        0       0       0       0       6       6
[redun] | redun_notebook.add4       0       0       0       0       1       1
[redun] 
[redun] Execution duration: 2.09 seconds
""")


def test_in18_in19_recursive_add_many(nb, caplog):
    add = nb["add"]

    @task()
    def add_many(values, init=0):
        if len(values) == 0:
            return init
        elif len(values) == 1:
            return values[0]
        else:
            k = len(values) // 2
            sum1 = add_many(values[:k])
            sum2 = add_many(values[k:])
            return add(sum1, sum2)

    nb["add_many"] = add_many
    caplog.set_level(logging.INFO, logger="redun_fast")
    assert nb["scheduler"].run(add_many(list(range(100)))) == 4950

    lines = [mask(line) for line in log_lines(caplog)]
    assert lines[0] == mask(
        "Start Execution cfc2b087-c8ce-47e7-aeec-33fbde829fb5:  redun 'TaskExpression('\"'\"'"
        "redun_notebook.add_many'\"'\"', ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, "
        "16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, "
        "38, 39, 40,...'"
    )
    assert lines[1] == mask(
        "Run    Job addae7e9:  redun_notebook.add_many(values=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, "
        "11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, "
        "33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51..., init=0) "
        "on default"
    )
    assert "Run    Job <id>:  redun_notebook.add_many(values=[12], init=0) on default" in lines
    # add(3, 4) and add(7, 8) were computed by earlier cells.
    assert "Cached Job <id>:  redun_notebook.add(a=7, b=8) (eval_hash=<hash>)" in lines
    assert sum(line.startswith("Cached Job") for line in lines) == 2
    assert status_table(caplog) == expected("""
[redun] 
[redun] | JOB STATUS 2022/04/27 16:42:19
[redun] | TASK                    PENDING RUNNING  FAILED  CACHED    DONE   TOTAL
[redun] | 
[redun] | ALL                           0       0       0       2     304     306
[redun] | redun.root_task               0       0       0       0       1       1
[redun] | redun_notebook.add            0       0       0       2     103     105
[redun] | redun_notebook.add4           0       0       0       0       1       1
[redun] | redun_notebook.add_many       0       0       0       0     199     199
[redun] 
[redun] Execution duration: 11.28 seconds
""")


def test_in20_in21_scatter_gather(nb, caplog, capsys):
    scheduler, add, add_many = nb["scheduler"], nb["add"], nb["add_many"]
    scheduler.logger.setLevel(logging.ERROR)
    init_values = list(range(10))
    values = [add(i, 1) for i in init_values]
    nb["values"] = values
    total = add_many(values)
    assert scheduler.run(total) == 55
    assert log_lines(caplog) == []
    starts = [line for line in capsys.readouterr().out.split("\n") if line.startswith("start")]
    assert sorted(starts) == sorted(
        [f"start add({i}, 1)" for i in range(10)]
        + ["start add(6, 7)", "start add(9, 10)", "start add(8, 19)", "start add(13, 27)",
           "start add(15, 40)"]
    )


def test_in22_values_are_expressions(nb):
    assert repr(nb["values"]) == "[" + ", ".join(
        f"TaskExpression('redun_notebook.add', ({i}, 1), {{}})" for i in range(10)
    ) + "]"


def test_in24_dict_of_expressions(nb):
    add = nb["add"]
    expr = {"first": add(1, 2), "second": add(3, 4)}
    assert str(expr) == (
        "{'first': TaskExpression('redun_notebook.add', (1, 2), {}), "
        "'second': TaskExpression('redun_notebook.add', (3, 4), {})}"
    )
    assert nb["scheduler"].run(expr) == {"first": 3, "second": 7}


def test_in25_list_of_dicts(nb):
    add = nb["add"]
    expr = [{"id": 1, "price": add(1, 2)}, {"id": 2, "price": add(3, 4)}]
    assert str(expr) == (
        "[{'id': 1, 'price': TaskExpression('redun_notebook.add', (1, 2), {})}, "
        "{'id': 2, 'price': TaskExpression('redun_notebook.add', (3, 4), {})}]"
    )
    assert nb["scheduler"].run(expr) == [{"id": 1, "price": 3}, {"id": 2, "price": 7}]


def test_in26_dependent_list_elements(nb):
    add = nb["add"]
    values = list(range(10))
    cumsum = [0]
    for value in values:
        cumsum.append(add(cumsum[-1], value))
    assert str(cumsum).startswith(
        "[0, TaskExpression('redun_notebook.add', (0, 0), {}), "
        "TaskExpression('redun_notebook.add', (TaskExpression('redun_notebook.add', (0, 0), {}), "
        "1), {}), "
    )
    assert nb["scheduler"].run(cumsum) == [0, 0, 1, 3, 6, 10, 15, 21, 28, 36, 45]


def test_in27_to_in29_lazy_getitem(nb, capsys):
    add = nb["add"]

    @task()
    def intdiv(numerator, denominator):
        quotient, remainder = divmod(numerator, denominator)
        return {
            "quotient": quotient,
            "remainder": remainder,
        }

    assert repr(intdiv(12, 5)["quotient"]) == (
        "SimpleExpression('getitem', (TaskExpression('redun_notebook.intdiv', (12, 5), {}), "
        "'quotient'), {})"
    )
    result = intdiv(12, 5)
    x = add(result["quotient"], 1)
    y = add(result["remainder"], 2)
    capsys.readouterr()
    assert nb["scheduler"].run(add(x, y)) == 7
    assert capsys.readouterr().out == "start add(2, 2)\nstop  add(2, 2)\n"


class User:
    def __init__(self, name, friend=None):
        self.name = name
        self.friend = friend

    def get_friend(self):
        return self.friend


def test_in33_in34_lazy_attributes_and_calls(nb):
    @task()
    def returns_alot():
        return User("Alice", friend=User("Bob"))

    expr = returns_alot().get_friend().name
    assert repr(expr) == (
        "SimpleExpression('getattr', (SimpleExpression('call', (SimpleExpression('getattr', "
        "(TaskExpression('redun_notebook.returns_alot', (), {}), 'get_friend'), {}), (), {}), "
        "{}), 'name'), {})"
    )
    assert nb["scheduler"].run(expr) == "Bob"


def test_in35_lazy_operators(nb):
    add = nb["add"]
    expr = (add(1, 2) + 1) * add(1, 1)
    assert str(expr) == (
        "SimpleExpression('mul', (SimpleExpression('add', (TaskExpression('redun_notebook.add', "
        "(1, 2), {}), 1), {}), TaskExpression('redun_notebook.add', (1, 1), {})), {})"
    )
    assert nb["scheduler"].run(expr) == 8


def test_in36_in37_higher_order_task(nb, capsys):
    @task()
    def divide_and_conquer(a_task, values, init=0):
        if len(values) == 0:
            return init
        elif len(values) == 1:
            return values[0]
        else:
            k = len(values) // 2
            sum1 = divide_and_conquer(a_task, values[:k])
            sum2 = divide_and_conquer(a_task, values[k:])
            return a_task(sum1, sum2)

    nb["divide_and_conquer"] = divide_and_conquer
    capsys.readouterr()
    assert nb["scheduler"].run(divide_and_conquer(nb["add"], list(range(10)))) == 45
    starts = [line for line in capsys.readouterr().out.split("\n") if line.startswith("start")]
    assert sorted(starts) == sorted([
        "start add(8, 9)", "start add(2, 7)", "start add(7, 17)", "start add(1, 9)",
        "start add(11, 24)", "start add(10, 35)",
    ])


def test_in38_in39_other_reducer(nb):
    @task()
    def mult(a, b):
        return a * b

    assert nb["scheduler"].run(nb["divide_and_conquer"](mult, list(range(1, 10)))) == 362880


def test_in40_in43_reducer_building_tuples(nb):
    @task()
    def pair(a, b):
        return (a, b)

    assert nb["scheduler"].run(nb["divide_and_conquer"](pair, list(range(10)))) == (
        ((0, 1), (2, (3, 4))), ((5, 6), (7, (8, 9)))
    )


def test_in44_partial_application(nb, capsys):
    add = nb["add"]
    inc = add.partial(1)
    assert re.fullmatch(
        r"PartialTask\(fullname=redun_notebook\.add, hash=[0-9a-f]{8}, args=\(1,\), kwargs=\{\}\)",
        str(inc),
    )
    assert str(inc(10)) == "TaskExpression('redun_notebook.add', (1, 10), {})"
    capsys.readouterr()
    assert nb["scheduler"].run(inc(10)) == 11
    assert capsys.readouterr().out == "start add(1, 10)\nstop  add(1, 10)\n"


def test_in49_to_in51_cache_option(nb, capsys):
    scheduler = nb["scheduler"]

    @task(cache=False)
    def double(x):
        print("Doubling", x)
        return x * 2

    capsys.readouterr()
    print(scheduler.run(double(1)))
    print(scheduler.run(double(1)))
    assert capsys.readouterr().out == "Doubling 1\n2\nDoubling 1\n2\n"

    print(scheduler.run(double.options(cache=True)(1)))
    print(scheduler.run(double.options(cache=True)(1)))
    assert capsys.readouterr().out == "2\n2\n"
