"""The hash rules of DESIGN.md §3: typed, order- and PYTHONHASHSEED-independent, stable."""
import collections
import dataclasses
import os
import subprocess
import sys
import textwrap

import pytest

from redun_fast._core import (
    HashError,
    call_digest,
    encode_value,
    eval_digest,
    hash_value,
    value_digest,
)

Point = collections.namedtuple("Point", "x y")
OtherPoint = collections.namedtuple("OtherPoint", "x y")


@dataclasses.dataclass
class Sample:
    name: str
    reads: list


@dataclasses.dataclass(frozen=True)
class OtherSample:
    name: str
    reads: list


class WithOwnHash:
    def __init__(self, key):
        self.key = key

    def __redun_hash__(self):
        return f"own-{self.key}"


class Plain:
    def __init__(self, value):
        self.value = value


def test_types_are_tagged():
    hashes = {hash_value(v) for v in [1, 1.0, True, "1", b"1", (1,), [1], {1}, frozenset([1])]}
    assert len(hashes) == 9
    assert hash_value(0) != hash_value(False) != hash_value(None)
    assert hash_value([]) != hash_value(()) != hash_value({}) != hash_value(set())


def test_hash_is_32_lowercase_hex_and_matches_digest():
    h = hash_value({"a": [1, 2.5, None]})
    assert len(h) == 32 and h == h.lower() and int(h, 16) >= 0
    assert value_digest({"a": [1, 2.5, None]}).hex() == h


def test_equal_values_hash_equal_and_different_values_differ():
    assert hash_value([1, "a", (2, 3)]) == hash_value([1, "a", (2, 3)])
    assert hash_value([1, 2]) != hash_value([2, 1])
    assert hash_value("ab") != hash_value("ba")
    # Length prefixes keep concatenations apart.
    assert hash_value(("ab", "c")) != hash_value(("a", "bc"))
    assert hash_value([[1], 2]) != hash_value([1, [2]])


def test_dict_and_set_order_do_not_matter():
    a = {"x": 1, "y": 2, 3: "z"}
    b = {3: "z", "y": 2, "x": 1}
    assert list(a) != list(b)
    assert hash_value(a) == hash_value(b)
    assert hash_value({"b", "a", "c"}) == hash_value({"c", "a", "b"})
    assert hash_value({"x": 1}) != hash_value({"x": 2}) != hash_value({"y": 1})


def test_big_ints_and_floats():
    assert hash_value(2**64) != hash_value(2**64 + 1) != hash_value(-(2**64))
    assert hash_value(2**63 - 1) != hash_value(2**63)
    assert hash_value(float("nan")) == hash_value(float("-nan"))
    assert hash_value(0.0) != hash_value(-0.0)
    assert hash_value(float("inf")) != hash_value(float("-inf"))


def test_unicode_and_lone_surrogates():
    assert hash_value("naïve ☃") == hash_value("naïve ☃")
    assert hash_value("\ud800") != hash_value("\ud801")


def test_namedtuples_and_dataclasses_include_their_type():
    assert hash_value(Point(1, 2)) != hash_value((1, 2))
    assert hash_value(Point(1, 2)) != hash_value(OtherPoint(1, 2))
    assert b"test_hashing.Point" in encode_value(Point(1, 2))
    assert hash_value(Sample("a", [1])) == hash_value(Sample("a", [1]))
    assert hash_value(Sample("a", [1])) != hash_value(Sample("a", [2]))
    assert hash_value(Sample("a", [1])) != hash_value(OtherSample("a", [1]))


def test_redun_hash_hook_decides_identity():
    assert hash_value(WithOwnHash(1)) == hash_value(WithOwnHash(1))
    assert hash_value(WithOwnHash(1)) != hash_value(WithOwnHash(2))


def test_other_objects_hash_by_pickle():
    assert hash_value(Plain(1)) == hash_value(Plain(1))
    assert hash_value(Plain(1)) != hash_value(Plain(2))


def test_unpicklable_value_is_a_clear_error():
    with pytest.raises(HashError, match=r"cannot hash a value of type builtins.function: it is not picklable .*lambda"):
        hash_value(lambda x: x)
    with pytest.raises(HashError, match="__redun_hash__"):
        hash_value([1, {"k": lambda: 0}])


def test_deep_nesting_is_an_error_not_a_crash():
    value = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(RecursionError, match="nested deeper"):
        hash_value(value)


def test_eval_digest_depends_on_task_and_arguments():
    task_a, task_b = value_digest("a"), value_digest("b")
    assert eval_digest(task_a, (1, 2), {}) == eval_digest(task_a, (1, 2), {})
    assert eval_digest(task_a, (1, 2), {}) != eval_digest(task_b, (1, 2), {})
    assert eval_digest(task_a, (1, 2), {}) != eval_digest(task_a, (2, 1), {})
    assert eval_digest(task_a, (1,), {"b": 2}) != eval_digest(task_a, (1, 2), {})
    assert len(eval_digest(task_a, (), {})) == 16


def test_call_digest_adds_the_result_to_the_call():
    task = value_digest("a")
    base = call_digest(task, (1, 2), {}, 3)
    assert base == call_digest(task, (1, 2), {}, 3) and len(base) == 16
    assert base != call_digest(task, (1, 2), {}, 4)
    assert base != call_digest(task, (2, 1), {}, 3)
    assert base != call_digest(value_digest("b"), (1, 2), {}, 3)
    assert base != eval_digest(task, (1, 2), {})


HASH_SCRIPT = textwrap.dedent("""
    from redun_fast._core import hash_value
    print(hash_value({"alpha", "beta", "gamma", "delta"}))
    print(hash_value({"alpha": 1, "beta": 2, "gamma": 3}))
    print(hash_value(frozenset(["x", "y", ("z", 1)])))
""")


def test_hashes_do_not_depend_on_pythonhashseed():
    outputs = set()
    for seed in ["1", "2", "12345"]:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        # Set iteration order differs between these seeds; the hashes must not.
        order = subprocess.run(
            [sys.executable, "-c", "print(list({'alpha', 'beta', 'gamma', 'delta'}))"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout
        out = subprocess.run(
            [sys.executable, "-c", HASH_SCRIPT], env=env, capture_output=True, text=True,
            check=True,
        ).stdout
        outputs.add((out, order))
    assert len({out for out, _ in outputs}) == 1
    assert len({order for _, order in outputs}) > 1  # the seeds really changed set order
