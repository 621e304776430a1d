"""Results as stored: the fast path for one-scalar pickles reads exactly what pickle does."""
import math
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redun_fast.cache.serialize import loads

SCALARS = st.one_of(
    st.integers(), st.integers(min_value=-300, max_value=70_000), st.floats(), st.booleans(),
    st.none(), st.text(max_size=300), st.just("\ud800"),
)


def same(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b and repr(a) == repr(b)


@settings(max_examples=2000, deadline=None)
@given(SCALARS)
def test_one_scalar_reads_as_pickle_reads_it(value):
    data = pickle.dumps(value, protocol=5)
    assert same(loads(data), pickle.loads(data))


@pytest.mark.parametrize("value", [
    (1, 2), [1], {"a": 1}, b"ab", 2 ** 80, "x" * 300, 1 + 2j, {1, 2}, range(3),
])
def test_anything_else_goes_to_pickle(value):
    assert loads(pickle.dumps(value, protocol=5)) == value
    assert loads(pickle.dumps(value, protocol=2)) == value


@pytest.mark.parametrize("data", [
    b"\x80\x05K\x01",  # no STOP
    b"\x80\x05\x95\x05\x00\x00\x00\x00\x00\x00\x00M\x01.",  # frame longer than the data
    b"\x80\x05J\x01\x02.",  # BININT cut short
    b"\x80\x05\x95\x05\x00\x00\x00\x00\x00\x00\x00\x8c\x05ab\x94.",  # str shorter than said
])
def test_damaged_pickles_fail_as_pickle_fails(data):
    with pytest.raises(Exception) as expected:
        pickle.loads(data)
    with pytest.raises(type(expected.value)):
        loads(data)
