"""Hashes are the cache's keys: an accidental change to the encoding silently invalidates every
user's cache, and a collision would return a wrong result. A golden file pins the hashes of
typical values; property tests check that the hash follows typed equality and nothing else.

After a deliberate change of the encoding, regenerate the golden file with
`REDUN_FAST_WRITE_GOLDEN=1 pytest tests/reliability/test_hash_stability.py` and say in the
commit that every cache is invalidated.
"""
import dataclasses
import json
import math
import os
import struct
from collections import namedtuple
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from redun_fast import task
from redun_fast._core import call_digest, encode_value, eval_digest, hash_value

GOLDEN = Path(__file__).with_name("golden_hashes.json")

# Types named as if they lived in a module "golden", so that where pytest imports this file
# from does not change their hashes (a type's hash includes its module and name).
Point = namedtuple("Point", "x y", module="golden")


@dataclasses.dataclass(frozen=True)
class Sample:
    name: str
    reads: tuple
    quality: float = 30.0


Sample.__module__ = "golden"


@task(namespace="golden")
def align(sample, reference="hg38", threads=4):
    return f"{sample}.{reference}.bam"


def golden_values():
    return {
        "none": None, "true": True, "false": False,
        "int_0": 0, "int_1": 1, "int_-1": -1, "int_2**63-1": 2**63 - 1, "int_2**63": 2**63,
        "int_-2**63": -(2**63), "int_-2**63-1": -(2**63) - 1, "int_10**40": 10**40,
        "float_0.0": 0.0, "float_-0.0": -0.0, "float_1.0": 1.0, "float_0.1": 0.1,
        "float_nan": math.nan, "float_-nan": -math.nan, "float_inf": math.inf,
        "float_-inf": -math.inf, "float_tiny": 5e-324,
        "str_empty": "", "str_ascii": "sample_01", "str_accents": "Zürich café",
        "str_cjk": "基因组", "str_emoji": "🧬🧪", "str_surrogate": "\udcff",
        "bytes_empty": b"", "bytes": b"\x00\xffACGT", "bytearray": bytearray(b"ACGT"),
        "tuple_empty": (), "list_empty": [], "dict_empty": {}, "set_empty": set(),
        "frozenset_empty": frozenset(),
        "tuple": (1, "a", 2.5), "list": [1, "a", 2.5], "nested_list": [[1, [2, [3]]], []],
        "dict": {"sample": "s1", "lanes": [1, 2], "paired": True},
        "dict_mixed_keys": {1: "int", "1": "str", 1.5: "float", (1, 2): "tuple"},
        "set": {"b", "a", "c"}, "frozenset": frozenset({1, 2, 3}),
        "set_of_tuples": {(1, "x"), (2, "y")},
        "namedtuple": Point(1, 2), "namedtuple_nested": Point([1.0], {"k": Point(0, 0)}),
        "dataclass": Sample("s1", ("r1.fq", "r2.fq")),
        "dataclass_default_changed": Sample("s1", ("r1.fq", "r2.fq"), quality=20.0),
        "deep": {"a": [{"b": ({"c": frozenset({("d", None)})},)}]},
        "task_hash": align.hash,
        "eval_hash": eval_digest(align.digest, ("s1",), {"threads": 8}).hex(),
        "eval_hash_no_args": eval_digest(align.digest, (), {}).hex(),
        "call_hash": call_digest(align.digest, ("s1",), {}, "s1.hg38.bam").hex(),
    }


def current_hashes():
    hashes = {}
    for name, value in golden_values().items():
        hashes[name] = value if name.endswith("_hash") else hash_value(value)
    return hashes


def test_golden_hashes_have_not_changed():
    hashes = current_hashes()
    if os.environ.get("REDUN_FAST_WRITE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    changed = sorted(name for name in golden if hashes.get(name) != golden[name])
    assert not changed, (
        f"the hash of {', '.join(changed)} changed: every cached result would be lost. "
        "If this is deliberate, regenerate tests/reliability/golden_hashes.json (see its test)")
    assert set(hashes) == set(golden), "add new golden values to the file (see the docstring)"


def test_golden_values_are_all_distinct():
    hashes = current_hashes()
    distinct = {name: h for name, h in hashes.items() if name != "float_-nan"}  # nan is nan
    assert len(set(distinct.values())) == len(distinct)
    assert hashes["float_nan"] == hashes["float_-nan"]


# Property tests: the hash is a function of typed structure, and of nothing else.

scalars = (st.none() | st.booleans() | st.integers() | st.integers(-3, 3)
           | st.floats(allow_nan=True) | st.sampled_from([0.0, -0.0, 1.0, math.nan])
           | st.text(max_size=8) | st.binary(max_size=8) | st.sampled_from(["", "1", "a"]))
hashable = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner,
                        max_size=3), max_leaves=6)
values = st.recursive(
    scalars | hashable,
    lambda inner: (st.lists(inner, max_size=4) | st.tuples(inner, inner)
                   | st.dictionaries(hashable, inner, max_size=3)
                   | st.sets(hashable, max_size=3) | st.builds(Point, inner, inner)),
    max_leaves=12)


def canonical(value):
    """Typed structural identity, written independently of the encoder: 1, 1.0, True and "1"
    differ; every NaN is one value; 0.0 and -0.0 differ (they give different results)."""
    kind = type(value)
    if kind is float:
        return ("float", "nan" if math.isnan(value) else struct.pack("<d", value))
    if kind in (list, tuple) or kind is Point:
        return (kind.__name__, tuple(canonical(item) for item in value))
    if kind is dict:
        return ("dict", frozenset((canonical(k), canonical(v)) for k, v in value.items()))
    if kind in (set, frozenset):
        return (kind.__name__, frozenset(canonical(item) for item in value))
    return (kind.__name__, value)


def reordered(value):
    """An equal copy built in another order (dicts and sets iterate in insertion order)."""
    kind = type(value)
    if kind is dict:
        return {k: reordered(v) for k, v in reversed(list(value.items()))}
    if kind in (set, frozenset):
        return kind(reversed([reordered(item) for item in value]))
    if kind in (list, tuple):
        return kind(reordered(item) for item in value)
    if kind is Point:
        return Point(*(reordered(item) for item in value))
    return value


@settings(max_examples=300, deadline=None)
@given(values)
def test_equal_values_hash_equal(value):
    assert hash_value(reordered(value)) == hash_value(value)


@settings(max_examples=500, deadline=None)
@given(values, values)
def test_hash_and_encoding_are_injective(a, b):
    same = canonical(a) == canonical(b)
    assert (hash_value(a) == hash_value(b)) == same
    if not isinstance(a, (dict, set, frozenset)):  # those encode their items' hashes, sorted
        assert (encode_value(a) == encode_value(b)) == same


@settings(max_examples=200, deadline=None)
@given(values)
def test_a_value_differs_from_its_neighbours(value):
    """Wrapping a value or changing its container type always changes its hash."""
    own = hash_value(value)
    for other in ([value], (value,), [value, value], Point(value, None)):
        assert hash_value(other) != own
    if isinstance(value, list):
        assert hash_value(tuple(value)) != own
