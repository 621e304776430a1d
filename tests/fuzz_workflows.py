"""Random workflows for differential tests (tests/test_fuzz.py): a hypothesis strategy of
expression trees over a small vocabulary, the Python source of each tree, and a reference
evaluator written for the test (eager Python, by the rules the engines must follow).

A tree is a tuple: ("int", n) | ("call", task, [trees]) | ("list", [trees]) | ("cond", tree,
tree, tree) | ("catch", tree) | ("op", "+" or "*", tree, n) | ("partial", n, tree) |
("map", [trees]) | ("seq", [trees]) | ("fresh", tree) | ("recurse", n) | ("first", tree) |
("file", tree): a File written with the value, read back | ("script", tree): a script
printing the value, its output parsed back | ("flat", [trees]): flat_map | ("dict", tree, key):
a task's dict, indexed lazily | ("gather", [trees]): catch_all of ValueErrors.
"""
from hypothesis import strategies as st

# The vocabulary's source, the same for redun and redun_fast (only the imports differ).
TASKS = '''
import ast
import hashlib
import os

redun_namespace = "fuzz"
RAN = []  # each call whose body ran, as a repr (a test reads it where the tasks run)
FOLDER = os.path.abspath(os.environ.get("FUZZ_FILES", "fuzz_files"))  # where `write` writes


def ran(*call):
    RAN.append(repr(call))


@task()
def add(a, b):
    ran("add", a, b)
    return a + b


@task()
def mul(a, b):
    ran("mul", a, b)
    return a * b


@task()
def boom(a):
    ran("boom", a)
    if a % 4 == 0:
        raise ValueError(f"boom {a}")
    return a


@task()
def recover(error):
    ran("recover", str(error))
    return -1


@task()
def inc(a):
    ran("inc", a)
    return a + 1


@task(cache=False)
def fresh(a):
    ran("fresh", a)
    return a + 1000


@task()
def pair(a, b):
    ran("pair", a, b)
    return (a, b)


@task()
def total(values):
    ran("total", values)
    return sum(values)


@task()
def recurse(n):
    ran("recurse", n)
    return add(recurse(n - 1), 1) if n > 0 else 0


@task()
def write(value):
    ran("write", value)
    text = repr(value)
    os.makedirs(FOLDER, exist_ok=True)
    file = File(os.path.join(FOLDER, hashlib.md5(text.encode()).hexdigest() + ".txt"))
    if not file.exists() or file.read() != text:  # the same contents keep the same File hash
        file.write(text)
    return file


@task()
def read(file):
    ran("read", os.path.basename(file.path))
    return ast.literal_eval(file.read())


@task()
def described(values):
    ran("described", values)
    return [f"error: {value}" if isinstance(value, Exception) else value for value in values]


@task()
def twice(a):
    ran("twice", a)
    return [a, a]


@task()
def keyed(a):
    ran("keyed", a)
    return {"value": a, "name": f"item {a!r}"}


@task()
def echo(value):
    ran("echo", value)
    return script(f"echo {repr(value)!r}")


@task()
def parse(output):
    ran("parse", output)
    return ast.literal_eval(output.decode())
'''

REDUN_IMPORTS = ("from redun import File, Scheduler, catch, cond, script, task\n"
                 "from redun.functools import flat_map, map_, seq\n"
                 "from redun.scheduler import catch_all\n")
REDUN_FAST_IMPORTS = ("from redun_fast import File, Scheduler, catch, cond, script, task\n"
                      "from redun_fast.functools import flat_map, map_, seq\n"
                      "from redun_fast.scheduler import catch_all\n")

_ints = st.integers(min_value=0, max_value=12).map(lambda n: ("int", n))


def _call_of(children):
    return children.map(lambda child: child if child[0] == "call" else ("call", "inc", [child]))


def _grow(children):
    some = st.lists(children, min_size=1, max_size=3)
    return st.one_of(
        st.tuples(st.just("call"), st.sampled_from(["add", "mul"]), st.lists(children, min_size=2,
                                                                             max_size=2)),
        st.tuples(st.just("call"), st.sampled_from(["boom", "inc"]),
                  st.lists(children, min_size=1, max_size=1)),
        st.tuples(st.just("call"), st.just("total"), st.lists(some.map(lambda xs: ("list", xs)),
                                                              min_size=1, max_size=1)),
        st.tuples(st.just("list"), some),
        # A predicate or an operand is a call, so the comparison or operator is lazy: on a
        # plain list, Python would apply it as the workflow is built, before anything runs.
        st.tuples(st.just("cond"), _call_of(children), children, children),
        st.tuples(st.just("catch"), children),
        st.tuples(st.just("op"), st.sampled_from(["+", "*"]), _call_of(children),
                  st.integers(min_value=0, max_value=3)),
        st.tuples(st.just("partial"), st.integers(min_value=0, max_value=3), children),
        st.tuples(st.just("map"), some),
        st.tuples(st.just("seq"), some),
        st.tuples(st.just("fresh"), children),
        st.tuples(st.just("recurse"), st.integers(min_value=0, max_value=3)),
        st.tuples(st.just("first"), st.lists(children, min_size=2, max_size=2)),
        st.tuples(st.just("file"), children),
        st.tuples(st.just("script"), children),
        st.tuples(st.just("flat"), some),
        st.tuples(st.just("gather"), some),
        st.tuples(st.just("dict"), children, st.sampled_from(["value", "name"])),
    )


workflows = st.recursive(_ints, _grow, max_leaves=8)


def source(tree) -> str:
    """The Python expression that builds the tree's workflow."""
    kind = tree[0]
    if kind == "int":
        return str(tree[1])
    if kind == "call":
        return f"{tree[1]}({', '.join(source(arg) for arg in tree[2])})"
    if kind == "list":
        return f"[{', '.join(source(item) for item in tree[1])}]"
    if kind == "cond":
        return f"cond({source(tree[1])} > 6, {source(tree[2])}, {source(tree[3])})"
    if kind == "catch":
        return f"catch(boom({source(tree[1])}), ValueError, recover)"
    if kind == "op":
        return f"({source(tree[2])} {tree[1]} {tree[3]})"
    if kind == "partial":
        return f"add.partial({tree[1]})({source(tree[2])})"
    if kind == "map":
        return f"map_(inc, [{', '.join(source(item) for item in tree[1])}])"
    if kind == "seq":
        return f"seq([{', '.join(source(item) for item in tree[1])}])"
    if kind == "fresh":
        return f"fresh({source(tree[1])})"
    if kind == "recurse":
        return f"recurse({tree[1]})"
    if kind == "first":
        return f"pair({source(tree[1][0])}, {source(tree[1][1])})[0]"
    if kind == "file":
        return f"read(write({source(tree[1])}))"
    if kind == "script":
        return f"parse(echo({source(tree[1])}))"
    if kind == "flat":
        return f"flat_map(twice, [{', '.join(source(item) for item in tree[1])}])"
    if kind == "gather":
        return f"catch_all([{', '.join(source(item) for item in tree[1])}], ValueError, described)"
    if kind == "dict":
        return f"keyed({source(tree[1])})[{tree[2]!r}]"
    raise ValueError(kind)


def reference(tree, calls=None):
    """The value the workflow must give, or the exception it must raise (eagerly, in Python;
    cond evaluates only the branch it takes, catch recovers from boom's ValueError). `calls`,
    a set, gets each task call that returns, as (task name, its arguments)."""
    return _reference(tree, set() if calls is None else calls)


def _returned(calls, name, *args):
    calls.add((name, repr(args)))  # (a repr: arguments may be lists)


def _reference(tree, calls):
    reference = lambda tree: _reference(tree, calls)  # noqa: E731  (the same calls, below)
    kind = tree[0]
    if kind == "int":
        return tree[1]
    if kind == "call":
        args = [reference(arg) for arg in tree[2]]
        name = tree[1]
        if name == "boom" and args[0] % 4 == 0:
            raise ValueError(f"boom {args[0]}")
        _returned(calls, name, *args)
        if name == "add":
            return args[0] + args[1]
        if name == "mul":
            return args[0] * args[1]
        if name == "inc":
            return args[0] + 1
        if name == "total":
            return sum(args[0])
        if name == "boom":
            return args[0]
    if kind == "list":
        return [reference(item) for item in tree[1]]
    if kind == "cond":
        return reference(tree[2]) if reference(tree[1]) > 6 else reference(tree[3])
    if kind == "catch":  # boom(x) in a catch: a ValueError from it or from inside x recovers
        try:
            value = reference(tree[1])
        except ValueError as error:
            _returned(calls, "recover", str(error))
            return -1
        if value % 4 == 0:
            _returned(calls, "recover", f"boom {value}")
            return -1
        _returned(calls, "boom", value)
        return value
    if kind == "op":
        value = reference(tree[2])
        return value + tree[3] if tree[1] == "+" else value * tree[3]
    if kind == "partial":
        value = reference(tree[2])
        _returned(calls, "add", tree[1], value)
        return tree[1] + value
    if kind == "map":
        values = [reference(item) for item in tree[1]]
        for value in values:
            _returned(calls, "inc", value)
        return [value + 1 for value in values]
    if kind == "seq":
        return [reference(item) for item in tree[1]]
    if kind == "fresh":
        value = reference(tree[1])
        _returned(calls, "fresh", value)
        return value + 1000
    if kind == "recurse":  # recurse(n) returns add(recurse(n - 1), 1)
        for n in range(tree[1] + 1):
            _returned(calls, "recurse", n)
            if n:
                _returned(calls, "add", n - 1, 1)
        return tree[1]
    if kind == "first":
        first, second = reference(tree[1][0]), reference(tree[1][1])
        _returned(calls, "pair", first, second)
        return first
    if kind == "file":  # a File written with the value's repr, read back
        value = reference(tree[1])
        _returned(calls, "write", value)
        _returned(calls, "read", value)
        return value
    if kind == "script":  # `echo` returns a script printing the value's repr; `parse` reads it
        value = reference(tree[1])
        _returned(calls, "echo", value)
        _returned(calls, "parse", value)
        return value
    if kind == "gather":  # catch_all: every item to its end; ValueErrors described in place
        values, others = [], []
        for item in tree[1]:
            try:
                values.append(reference(item))
            except ValueError as error:
                values.append(error)
            except Exception as error:  # not caught: the first such error is raised
                others.append(error)
                values.append(error)
        if others:
            raise others[0]
        if not any(isinstance(value, Exception) for value in values):
            return values
        _returned(calls, "described", values)
        return [f"error: {value}" if isinstance(value, Exception) else value for value in values]
    if kind == "flat":  # flat_map(twice, items): each item twice, one list
        values = [reference(item) for item in tree[1]]
        for value in values:
            _returned(calls, "twice", value)
        return [value for value in values for _ in range(2)]
    if kind == "dict":  # keyed(x)[key], a lazy getitem on a dict
        value = reference(tree[1])
        _returned(calls, "keyed", value)
        return {"value": value, "name": f"item {value!r}"}[tree[2]]
    raise ValueError(kind)


# The tasks whose source a test may change (`fresh` runs every time anyway).
CHANGEABLE = ["add", "mul", "boom", "recover", "inc", "pair", "total", "recurse", "write",
              "read", "echo", "parse", "twice", "keyed", "described"]


def task_source(name, changed=""):
    """The source of one task of TASKS (its decorator and body); `changed`, a word: with a
    line that holds it, which changes the task's code (so its hash) but not what it
    computes (a new word each time: its results are not cached yet)."""
    start = TASKS.index(f"\ndef {name}(")
    start = TASKS.rindex("@task", 0, start)
    end = TASKS.find("\n\n\n", start)
    text = TASKS[start:] if end < 0 else TASKS[start:end]
    if changed:
        head, _, body = text.partition(":\n")
        text = f'{head}:\n    _version = {changed!r}\n{body}'
    return text + "\n"


def outcome(evaluate):
    """("value", v) or ("error", exception type name): with two failures in a workflow, which
    one an engine meets first is a race, so only the type is compared."""
    try:
        return ("value", evaluate())
    except Exception as error:
        return ("error", type(error).__name__)
