"""Random workflows for differential tests (tests/test_fuzz.py): a hypothesis strategy of
expression trees over a small vocabulary, the Python source of each tree, and a reference
evaluator written for the test (plain Python, by the rules the engines must follow).

A tree is a tuple: ("int", n) | ("lit", value): a bool, float, string, bytes, None or tuple,
which a task must tell from an int (1, True, 1.0 and "1" are different arguments) or on which
it fails | ("call", task, [trees]) | ("list" or "tuple" or "mapping", [trees]): a container
of expressions | ("cond", tree, tree, tree) | ("catch", tree) | ("op", "+" or "*", tree, n) |
("partial", n, tree) | ("map", [trees]) | ("seq", [trees]) | ("fresh", tree): a cache=False
call | ("recurse", n): a task returning expressions, n deep | ("first", [tree, tree]): a lazy
getitem | ("attr", [tree, tree], name): a lazy getattr | ("file", tree): a File written with
the value, read back | ("script", tree): a script printing the value, its output parsed back |
("flat", [trees]): flat_map | ("dict", tree, key): a task's dict, indexed lazily | ("gather",
[trees]): catch_all of ValueErrors | ("same", tree): the same expression twice, one job |
("kind", tree): the type and repr of a value.
"""
import ast
import collections
import itertools
from fractions import Fraction

from hypothesis import strategies as st

# The vocabulary's source, the same for redun and redun_fast (only the imports differ).
TASKS = '''
import ast
import hashlib
import os
import shlex
from fractions import Fraction

redun_namespace = "fuzz"
RAN = []  # each call whose body ran in this process, as a line of ran.log
# Where `write` writes, and ran.log: a line for each body that ran, in any process on any node
# (the count of executions that does not rest on the engine's own).
FOLDER = os.path.abspath(os.environ["FUZZ_FILES"])


def ran(name, *args):
    line = f"{name} {args!r}"
    RAN.append(line)
    os.makedirs(FOLDER, exist_ok=True)
    with open(os.path.join(FOLDER, "ran.log"), "a") as log:  # O_APPEND, one write a line
        log.write(line + "\\n")


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
    return script(f"printf '%s\\\\n' {shlex.quote(repr(value))}")


@task()
def parse(output):
    ran("parse", output)
    return ast.literal_eval(output.decode())


@task()
def kind(value):
    ran("kind", value)
    return f"{type(value).__name__}:{value!r}"


@task()
def ratio(a, b):
    ran("ratio", a, b)
    return Fraction(a, b + 1)
'''

REDUN_IMPORTS = ("from redun import File, Scheduler, catch, cond, script, task\n"
                 "from redun.functools import flat_map, map_, seq\n"
                 "from redun.scheduler import catch_all\n")
REDUN_FAST_IMPORTS = ("from redun_fast import File, Scheduler, catch, cond, script, task\n"
                      "from redun_fast.functools import flat_map, map_, seq\n"
                      "from redun_fast.scheduler import catch_all\n")

_ints = st.integers(min_value=0, max_value=12).map(lambda n: ("int", n))
LITERALS = [True, False, 1.0, -0.0, 0.0, "1", "a b", None, b"1", (1, 2)]
_literals = st.sampled_from(LITERALS).map(lambda value: ("lit", value))
# Mostly ints, which every task takes; one leaf in eight a value of another type (which
# shrinks to an int: hypothesis shrinks the draw towards 0).
_leaves = st.integers(min_value=0, max_value=7).flatmap(lambda k: _literals if k == 7 else _ints)


def _call_of(children):
    return children.map(lambda child: child if child[0] == "call" else ("call", "inc", [child]))


def _grow(children):
    some = st.lists(children, min_size=1, max_size=3)
    two = st.lists(children, min_size=2, max_size=2)
    return st.one_of(
        st.tuples(st.just("call"), st.sampled_from(["add", "mul"]), two),
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
        st.tuples(st.just("first"), two),
        st.tuples(st.just("file"), children),
        st.tuples(st.just("script"), children),
        st.tuples(st.just("flat"), some),
        st.tuples(st.just("gather"), some),
        st.tuples(st.just("dict"), children, st.sampled_from(["value", "name"])),
        st.tuples(st.just("tuple"), some),
        st.tuples(st.just("mapping"), some),
        st.tuples(st.just("same"), children),
        st.tuples(st.just("kind"), children),
        st.tuples(st.just("attr"), two, st.sampled_from(["numerator", "denominator"])),
    )


workflows = st.recursive(_leaves, _grow, max_leaves=8)


def source(tree) -> str:
    """The Python expression that builds the tree's workflow."""
    kind = tree[0]
    if kind in ("int", "lit"):
        return repr(tree[1])
    if kind == "call":
        return f"{tree[1]}({_sources(tree[2])})"
    if kind == "list":
        return f"[{_sources(tree[1])}]"
    if kind == "tuple":
        return f"({_sources(tree[1])}{',' if len(tree[1]) == 1 else ''})"
    if kind == "mapping":
        return "{" + ", ".join(f"'k{i}': {source(item)}" for i, item in enumerate(tree[1])) + "}"
    if kind == "cond":
        return f"cond({source(tree[1])} > 6, {source(tree[2])}, {source(tree[3])})"
    if kind == "catch":
        return f"catch(boom({source(tree[1])}), ValueError, recover)"
    if kind == "op":
        return f"({source(tree[2])} {tree[1]} {tree[3]})"
    if kind == "partial":
        return f"add.partial({tree[1]})({source(tree[2])})"
    if kind == "map":
        return f"map_(inc, [{_sources(tree[1])}])"
    if kind == "seq":
        return f"seq([{_sources(tree[1])}])"
    if kind == "fresh":
        return f"fresh({source(tree[1])})"
    if kind == "recurse":
        return f"recurse({tree[1]})"
    if kind == "first":
        return f"pair({_sources(tree[1])})[0]"
    if kind == "attr":
        return f"ratio({_sources(tree[1])}).{tree[2]}"
    if kind == "file":
        return f"read(write({source(tree[1])}))"
    if kind == "script":
        return f"parse(echo({source(tree[1])}))"
    if kind == "flat":
        return f"flat_map(twice, [{_sources(tree[1])}])"
    if kind == "gather":
        return f"catch_all([{_sources(tree[1])}], ValueError, described)"
    if kind == "dict":
        return f"keyed({source(tree[1])})[{tree[2]!r}]"
    if kind == "same":
        return f"[{source(tree[1])}, {source(tree[1])}]"
    if kind == "kind":
        return f"kind({source(tree[1])})"
    raise ValueError(kind)


def _sources(trees) -> str:
    return ", ".join(source(tree) for tree in trees)


# The reference evaluator. Engines run the calls whose arguments are known at once, so where
# two calls fail, either error may be the one that ends the workflow or reaches a catch: the
# reference gives every outcome the workflow may have, each as an *alternative*: (outcome,
# calls), the outcome ("value", v) or ("error", the exception), the calls a set of
# (task, repr(args), status, catches): status DONE (it returned), FAILED (it raised) or MAYBE
# (it may have run: a sibling of the call that failed first, which a catch may cut off), and
# `catches`, the tasks named in each catch that recovered around it (outermost first): a rerun
# replays such a catch's recovery, unless one of those tasks changed (redun keys a handled
# error by the catch's expression).
DONE, FAILED, MAYBE = "done", "failed", "maybe"


def _boom(a):
    if a % 4 == 0:
        raise ValueError(f"boom {a}")
    return a


def _described(values):
    return [f"error: {value}" if isinstance(value, Exception) else value for value in values]


# The tasks' bodies (TASKS), written again as plain functions. A task returning expressions
# (recurse, echo) is modelled where it is called.
BODIES = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "boom": _boom,
    "recover": lambda message: -1,  # (recover logs its error as str(error): so is it keyed)
    "inc": lambda a: a + 1,
    "fresh": lambda a: a + 1000,
    "pair": lambda a, b: (a, b),
    "total": sum,
    "write": lambda value: value,  # (a File holding repr(value))
    "read": lambda value: ast.literal_eval(repr(value)),
    "described": _described,
    "twice": lambda a: [a, a],
    "keyed": lambda a: {"value": a, "name": f"item {a!r}"},
    "echo": lambda value: f"{value!r}\n".encode(),  # what the script prints
    "parse": lambda output: ast.literal_eval(output.decode()),
    "kind": lambda value: f"{type(value).__name__}:{value!r}",
    "ratio": lambda a, b: Fraction(a, b + 1),
}


def _python(compute):
    """The alternative of running `compute()`: its value, or the exception it raises."""
    try:
        return [(("value", compute()), frozenset())]
    except Exception as error:
        return [(("error", error), frozenset())]


def _task(name, *args):
    """A call of a task whose arguments are known."""
    return [(outcome, frozenset([(name, repr(args), DONE if outcome[0] == "value" else FAILED,
                                  ())]))
            for outcome, _ in _python(lambda: BODIES[name](*args))]


def _unique(alternatives):
    return list({(repr(outcome), calls): (outcome, calls)
                 for outcome, calls in alternatives}.values())


def _each(alternatives, on_value, on_error=None):
    """Each alternative's value (or error) carried on by `on_value` (`on_error`), which
    returns alternatives; the calls made before are kept."""
    found = []
    for (status, value), calls in alternatives:
        step = on_value if status == "value" else on_error
        if step is None:
            found.append(((status, value), calls))
        else:
            found.extend((outcome, calls | more) for outcome, more in step(value))
    return _unique(found)


def _combined(alternative_lists, errors_kept=False):
    """The alternatives of evaluating several expressions at once, as a list of their values.
    If some fail, each of their errors may be the one raised, and then the others' calls may
    not have run (`errors_kept`: all run to their end, and the errors stand in the list in
    place, as catch_all sees them)."""
    found = []
    for combination in itertools.product(*alternative_lists):
        failed = [i for i, ((status, _), _) in enumerate(combination) if status == "error"]
        if errors_kept or not failed:
            calls = frozenset().union(*(calls for _, calls in combination))
            found.append((("value", [value for (_, value), _ in combination]), calls))
            continue
        for i in failed:
            cut = (_maybe(calls) for j, (_, calls) in enumerate(combination) if j != i)
            found.append((combination[i][0], combination[i][1].union(*cut)))
    return _unique(found)


def _maybe(calls):
    return frozenset((name, args, MAYBE, catches) for name, args, _, catches in calls)


def _together(trees):
    return _combined([possible(tree) for tree in trees])


def _value(value):
    return [(("value", value), frozenset())]


def possible(tree):
    """Every alternative of the workflow, as above."""
    kind = tree[0]
    if kind in ("int", "lit"):
        return _value(tree[1])
    if kind == "call":
        return _each(_together(tree[2]), lambda args: _task(tree[1], *args))
    if kind == "list":
        return _together(tree[1])
    if kind == "tuple":
        return _each(_together(tree[1]), lambda items: _value(tuple(items)))
    if kind == "mapping":
        return _each(_together(tree[1]),
                     lambda items: _value({f"k{i}": item for i, item in enumerate(items)}))
    if kind == "cond":  # the predicate, then only the branch it takes
        return _each(possible(tree[1]), lambda p: _each(
            _python(lambda: p > 6), lambda yes: possible(tree[2] if yes else tree[3])))
    if kind == "catch":
        return _caught(tree)
    if kind == "op":
        return _each(possible(tree[2]), lambda value: _python(
            lambda: value + tree[3] if tree[1] == "+" else value * tree[3]))
    if kind == "partial":
        return _each(possible(tree[2]), lambda value: _task("add", tree[1], value))
    if kind == "map":
        return _each(_together(tree[1]),
                     lambda values: _combined([_task("inc", value) for value in values]))
    if kind == "seq":  # one after the other: the first failure stops the rest
        found = _value([])
        for item in tree[1]:
            found = _each(found, lambda done, item=item: _each(
                possible(item), lambda value, done=done: _value(done + [value])))
        return found
    if kind == "fresh":
        return _each(possible(tree[1]), lambda value: _task("fresh", value))
    if kind == "recurse":  # recurse(n) returns add(recurse(n - 1), 1)
        calls = {("recurse", repr((n,)), DONE, ()) for n in range(tree[1] + 1)}
        calls |= {("add", repr((n, 1)), DONE, ()) for n in range(tree[1])}
        return [(("value", tree[1]), frozenset(calls))]
    if kind == "first":
        return _each(_each(_together(tree[1]), lambda ab: _task("pair", *ab)),
                     lambda pair: _value(pair[0]))
    if kind == "attr":
        return _each(_each(_together(tree[1]), lambda ab: _task("ratio", *ab)),
                     lambda ratio: _python(lambda: getattr(ratio, tree[2])))
    if kind == "file":  # read(write(x)): write returns a File holding repr(x); read parses it
        return _each(possible(tree[1]), lambda value: _each(
            _task("write", value), lambda file: _task("read", file)))
    if kind == "script":  # parse(echo(x)): echo's script prints repr(x); parse parses it
        return _each(possible(tree[1]), lambda value: _each(
            _task("echo", value), lambda output: _task("parse", output)))
    if kind == "flat":  # flat_map(twice, items): each item twice, one list
        return _each(_together(tree[1]), lambda values: _each(
            _combined([_task("twice", value) for value in values]),
            lambda lists: _value([item for pair in lists for item in pair])))
    if kind == "gather":  # catch_all: every item to its end; ValueErrors described in place
        return _each(_combined([possible(item) for item in tree[1]], errors_kept=True),
                     _gathered)
    if kind == "dict":  # keyed(x)[key], a lazy getitem on a dict
        return _each(possible(("call", "keyed", [tree[1]])),
                     lambda found: _value(found[tree[2]]))
    if kind == "same":  # both are one job (or the same expressions): one outcome for both
        return _each(possible(tree[1]), lambda value: _value([value, value]))
    if kind == "kind":
        return _each(possible(tree[1]), lambda value: _task("kind", value))
    raise ValueError(kind)


def _caught(tree):
    """catch(boom(x), ValueError, recover): a ValueError from boom or from inside x recovers;
    the calls on the way, and recover's, are then under this catch (a rerun replays them)."""
    named = tasks_in(tree)
    found = []
    for outcome, calls in possible(("call", "boom", [tree[1]])):
        if outcome[0] == "value" or not isinstance(outcome[1], ValueError):
            found.append((outcome, calls))
            continue
        for recovered, recover in _task("recover", str(outcome[1])):
            found.append((recovered, frozenset((name, args, status, (named,) + catches)
                                               for name, args, status, catches
                                               in calls | recover)))
    return _unique(found)


def _gathered(values):
    """catch_all's end: an error of another class is raised (any of them may be first); else
    recover (described) gets the values with the ValueErrors in place, if there are any."""
    errors = [value for value in values if isinstance(value, Exception)]
    others = [error for error in errors if not isinstance(error, ValueError)]
    if others:
        return [(("error", error), frozenset()) for error in others]
    return _task("described", values) if errors else _value(values)


# The tasks each kind of tree names besides its children's (a call names its own).
_NAMED = {"catch": {"boom", "recover"}, "partial": {"add"}, "map": {"inc"}, "fresh": {"fresh"},
          "recurse": {"recurse"}, "first": {"pair"}, "attr": {"ratio"}, "file": {"write", "read"},
          "script": {"echo", "parse"}, "flat": {"twice"}, "gather": {"described"},
          "dict": {"keyed"}, "kind": {"kind"}}


def tasks_in(tree):
    """The tasks a workflow's expression names (not those its tasks call as they run)."""
    names = set(_NAMED.get(tree[0], ()))
    if tree[0] == "call":
        names.add(tree[1])
    for part in tree[1:]:
        for child in part if isinstance(part, list) else [part]:
            if isinstance(child, tuple) and child and isinstance(child[0], str):
                names |= tasks_in(child)
    return frozenset(names)


def outcomes(alternatives):
    """The outcomes an engine may give, as compared: ("value", v) or ("error", the exception's
    type name), by their repr (so 1 and True, or 0.0 and -0.0, differ), mapped to themselves."""
    found = {}
    for outcome, _ in alternatives:
        shown = outcome if outcome[0] == "value" else ("error", type(outcome[1]).__name__)
        found[repr(shown)] = shown
    return found


_NONE, _MAY, _MUST = 0, 1, 2


def expected_runs(alternatives, changed=None):
    """(least, most): how many distinct calls of each task must run, and may run, when the
    workflow runs again after a run that gave its value, the same (changed=None) or with one
    task's code changed: its calls run again, as do cache=False calls and calls that failed
    (neither is cached); under a catch that recovered, nothing runs unless the catch names the
    changed task, and then anything may; a call that may have been cut off may run."""
    least, most = None, set()
    for _, calls in alternatives:
        verdicts = {}
        for name, args, status, catches in calls:
            if catches:
                verdict = _MAY if changed in catches[-1] else _NONE
            elif status == MAYBE:
                verdict = _MAY
            elif status == FAILED or name in ("fresh", changed):
                verdict = _MUST
            else:
                verdict = _NONE
            verdicts[name, args] = max(verdicts.get((name, args), _NONE), verdict)
        must = {call for call, verdict in verdicts.items() if verdict == _MUST}
        least = must if least is None else least & must
        most |= {call for call, verdict in verdicts.items() if verdict != _NONE}
    count = lambda calls: collections.Counter(name for name, _ in calls)  # noqa: E731
    return count(least), count(most)


# The tasks whose source a test may change (`fresh` runs every time anyway).
CHANGEABLE = ["add", "mul", "boom", "recover", "inc", "pair", "total", "recurse", "write",
              "read", "echo", "parse", "twice", "keyed", "described", "kind", "ratio"]


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
    """("value", v) or ("error", exception type name): what an engine's run gave."""
    try:
        return ("value", evaluate())
    except Exception as error:
        return ("error", type(error).__name__)
