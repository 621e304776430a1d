"""Lazy expressions: reprs, operators (with reversed forms), and their evaluation."""
import copy
import pickle

import pytest

from redun_fast import Expression, QuotedExpression, Scheduler, SimpleExpression, quote, task

redun_namespace = "expr"


@task
def value(x):
    return x


@task
def unquote(q):
    return q.eval()


@pytest.fixture
def scheduler():
    return Scheduler(executor="inline")


@pytest.mark.parametrize("build, name, expected", [
    (lambda e: e + 1, "add", 6), (lambda e: 1 + e, "radd", 6),
    (lambda e: e - 1, "sub", 4), (lambda e: 10 - e, "rsub", 5),
    (lambda e: e * 2, "mul", 10), (lambda e: 2 * e, "rmul", 10),
    (lambda e: e / 2, "div", 2.5), (lambda e: 10 / e, "rdiv", 2.0),
    (lambda e: e == 5, "eq", True), (lambda e: e != 5, "ne", False),
    (lambda e: e < 6, "lt", True), (lambda e: e <= 4, "le", False),
    (lambda e: e > 4, "gt", True), (lambda e: e >= 6, "ge", False),
    (lambda e: e & 0, "and", 0), (lambda e: 0 & e, "rand", 0),
    (lambda e: e | 7, "or", 5), (lambda e: 0 | e, "ror", 5),
])
def test_operators_are_lazy_and_evaluate(scheduler, build, name, expected):
    expr = build(value(5))
    assert isinstance(expr, SimpleExpression) and expr.func_name == name
    assert repr(expr).startswith(f"SimpleExpression({name!r}, (TaskExpression('expr.value', (5,), {{}}), ")
    assert scheduler.run(expr) == expected


def test_getitem_getattr_call_and_slices(scheduler):
    expr = value({"a": [10, 20, 30]})["a"]
    assert repr(expr) == (
        "SimpleExpression('getitem', (TaskExpression('expr.value', ({'a': [10, 20, 30]},), {}), "
        "'a'), {})"
    )
    assert scheduler.run(expr[1:3]) == [20, 30]
    assert scheduler.run(value("abc").upper()) == "ABC"
    assert scheduler.run(value(3).real) == 3


def test_bool_and_iteration_are_errors():
    with pytest.raises(TypeError, match=r"^Expressions cannot be coerced to bool\. .*use cond\("):
        bool(value(1))
    with pytest.raises(TypeError, match="Expressions cannot be coerced to bool"):
        if value(1) == 1:
            pass
    with pytest.raises(TypeError, match="unknown length cannot be iterated"):
        a, b = value((1, 2))


def test_protocol_probes_are_not_lazy():
    expr = value(1)
    assert not hasattr(expr, "__array__")
    assert not hasattr(expr, "_repr_html_")
    assert repr(copy.copy(expr)) == repr(expr)
    assert repr(pickle.loads(pickle.dumps(expr))) == repr(expr)


def test_expressions_work_in_sets_and_as_dict_keys(scheduler):
    a, b = value(1), value(2)
    assert len({a, b, a}) == 2
    assert scheduler.run({a: "one", b: "two"}) == {1: "one", 2: "two"}


def test_quoted_expressions_are_not_evaluated(scheduler):
    inner = value(3) + 1
    q = quote(inner)
    assert isinstance(q, QuotedExpression) and q.eval() is inner
    assert repr(q).startswith("<redun.expression.QuotedExpression object at 0x")
    # The task receives the quote untouched; what it returns is evaluated.
    assert scheduler.run(unquote(q)) == 4


def test_expression_hash_is_structural_and_shallow_for_deep_chains():
    assert value(1).__redun_hash__() == value(1).__redun_hash__()
    assert value(1).__redun_hash__() != value(2).__redun_hash__()
    assert (value(1) + 1).__redun_hash__() != (value(1) - 1).__redun_hash__()
    chain = value(0)
    for _ in range(20000):
        chain = chain + 1
    assert len(chain.__redun_hash__()) == 16


class Unknown(Expression):
    """An Expression that is neither a task call, a lazy operation nor a built-in."""

    def _hash_content(self):
        return ("Unknown",)


def test_an_expression_of_unknown_kind_is_a_clear_error(scheduler):
    with pytest.raises(TypeError, match="cannot evaluate a Unknown: an Expression must be a "
                                        "task call, a lazy operation or a built-in"):
        scheduler.run([value(1), Unknown()])


def test_expressions_are_not_tracked_by_the_cycle_collector_but_free_what_they_hold():
    # Building a million calls made the program's own garbage collections walk them all.
    import gc
    import weakref

    class Holder:
        pass

    held = Holder()
    held.me = held  # a cycle of the user's, which only the collector can free
    alive = weakref.ref(held)
    expr = value(held)[0] + 1
    assert not gc.is_tracked(expr) and not gc.is_tracked(expr.args[0])
    del held
    gc.collect()
    assert alive() is not None  # the expression holds it
    del expr
    gc.collect()
    assert alive() is None
