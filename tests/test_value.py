"""The value system: custom Values and ProxyValues, as the scheduler hashes, checks, stores
and processes them."""
import pickle

import pytest

from redun_fast import File, ProxyValue, Scheduler, Value, get_type_registry, task
from redun_fast._core import hash_value
from redun_fast.cache.lmdb_store import LmdbStore
from redun_fast.cache.serialize import CHECKED, ResultSerializer, load_checked
from redun_fast.errors import HashError, StaleResultError
from redun_fast.value import iter_nested_value, map_nested_value

redun_namespace = "valuetest"

# What the tasks below saw and did, per test (a thread executor shares the process).
seen = []
VALID = {"flag": True}


class Dataset(Value):
    """A custom Value: hashed by name and version, valid while VALID says so."""

    def __init__(self, name, version):
        self.name, self.version = name, version

    def get_hash(self, data=None):
        return f"{self.name}@{self.version}"

    def is_valid(self):
        return VALID["flag"]

    def __getstate__(self):
        return {"name": self.name, "version": self.version}

    def __setstate__(self, state):
        self.name, self.version = state["name"], state["version"]


class Tagged(Value):
    """Preprocessed before a task gets it, postprocessed when a task returns it."""

    def __init__(self, tag):
        self.tag = tag

    def get_hash(self, data=None):
        return self.tag

    def preprocess(self, preprocess_args):
        return Tagged(self.tag + "+pre")

    def postprocess(self, postprocess_args):
        assert len(postprocess_args["pre_call_hash"]) == 32
        return Tagged(self.tag + "+post")


class Broken(Value):
    def get_hash(self, data=None):
        raise RuntimeError("the database is down")


class Point:
    """A class we cannot change: its ProxyValue says how it hashes."""

    def __init__(self, x, y):
        self.x, self.y = x, y


class PointValue(ProxyValue):
    type = Point

    def get_hash(self, data=None):
        return f"point {self.instance.x},{self.instance.y}"


@task()
def describe(dataset):
    seen.append(dataset.name)
    return f"{dataset.name} v{dataset.version}"


@task()
def make_dataset(name):
    seen.append(name)
    return Dataset(name, 1)


@task()
def tag_of(value):
    return value.tag


@task()
def make_tagged(tag):
    return Tagged(tag)


@task()
def coordinates(point):
    seen.append("coordinates")
    return (point.x, point.y)


def lmdb_scheduler(tmp_path):
    return Scheduler(store=LmdbStore(str(tmp_path / "cache")))


@pytest.fixture(autouse=True)
def clean():
    seen.clear()
    VALID["flag"] = True


def test_a_value_is_hashed_by_its_get_hash():
    assert hash_value(Dataset("reads", 1)) == hash_value(Dataset("reads", 1))
    assert hash_value(Dataset("reads", 1)) != hash_value(Dataset("reads", 2))
    assert get_type_registry().get_type(Dataset) is Dataset
    assert get_type_registry().parse_type_name(Dataset.type_name) is Dataset


def test_an_argument_value_with_a_new_hash_runs_again(tmp_path):
    scheduler = lmdb_scheduler(tmp_path)
    assert scheduler.run(describe(Dataset("reads", 1))) == "reads v1"
    assert scheduler.run(describe(Dataset("reads", 1))) == "reads v1"
    assert scheduler.run(describe(Dataset("reads", 2))) == "reads v2"
    assert seen == ["reads", "reads"]  # the second call was cached


def test_a_cached_result_whose_value_is_no_longer_valid_runs_again(tmp_path):
    scheduler = lmdb_scheduler(tmp_path)
    scheduler.run(make_dataset("reads"))
    scheduler.run(make_dataset("reads"))
    assert seen == ["reads"]
    VALID["flag"] = False
    result = scheduler.run(make_dataset("reads"))
    assert seen == ["reads", "reads"] and result.name == "reads"


def test_only_results_holding_values_with_a_validity_check_are_marked():
    dumps = ResultSerializer().dumps
    assert dumps(5, "t")[0] != CHECKED
    assert dumps([1, {"a": (2, 3)}], "t")[0] != CHECKED
    assert dumps(Tagged("x"), "t")[0] != CHECKED  # Tagged has no is_valid of its own
    marked = dumps({"data": [Dataset("a", 1), 2]}, "t")
    assert marked[0] == CHECKED
    assert load_checked(marked)["data"][0].name == "a"
    VALID["flag"] = False
    with pytest.raises(StaleResultError, match="no longer valid"):
        load_checked(marked)


def test_preprocess_before_the_call_and_postprocess_after_it():
    scheduler = Scheduler()
    assert scheduler.run(tag_of(Tagged("a"))) == "a+pre"
    assert scheduler.run(make_tagged("b")).tag == "b+post"


def test_a_value_whose_get_hash_raises_is_a_clear_error_and_caches_nothing(tmp_path):
    scheduler = lmdb_scheduler(tmp_path)
    with pytest.raises(HashError, match=r"argument 'dataset' of valuetest.describe cannot be "
                                        r"hashed: .*Broken failed: RuntimeError: the database is down"):
        scheduler.run(describe(Broken()))
    assert seen == []
    assert scheduler.store.stats()["results"] == 0


def test_a_proxy_value_hashes_a_class_it_cannot_change(tmp_path):
    assert hash_value(Point(1, 2)) == hash_value(Point(1, 2))
    assert hash_value(Point(1, 2)) != hash_value(Point(1, 3))
    assert isinstance(get_type_registry().get_value(Point(1, 2)), PointValue)
    scheduler = lmdb_scheduler(tmp_path)
    assert scheduler.run(coordinates(Point(1, 2))) == (1, 2)
    assert scheduler.run(coordinates(Point(1, 2))) == (1, 2)
    assert seen == ["coordinates"]


def test_values_pickle_with_their_state():
    again = pickle.loads(pickle.dumps(Dataset("reads", 3)))
    assert (again.name, again.version) == ("reads", 3)


def test_nested_walks_keep_what_did_not_change():
    value = {"a": [1, (2, Dataset("x", 1))], "b": {3}}
    leaves = list(iter_nested_value(value))
    assert sorted(str(v) for v in leaves if type(v) in (str, int)) == ["1", "2", "3", "a", "b"]
    assert sum(isinstance(v, Dataset) for v in leaves) == 1
    assert map_nested_value(lambda v: v, value) is value
    doubled = map_nested_value(lambda v: v * 2 if type(v) is int else v, value)
    assert doubled["a"][0] == 2 and doubled["b"] == {6} and value["a"][0] == 1


class LabelledFile(File):
    """A File subclass with state of its own: stored as a pickle, not packed."""

    def __init__(self, path, label):
        super().__init__(path)
        self.label = label

    def __getstate__(self):
        return {**super().__getstate__(), "label": self.label}

    def __setstate__(self, state):
        super().__setstate__(state)
        self.label = state["label"]


def test_a_file_result_is_stored_packed_and_a_subclass_keeps_its_state(tmp_path):
    dumps = ResultSerializer().dumps
    f = File(str(tmp_path / "a.txt"))
    f.write("a")
    packed = dumps(f, "t")
    assert packed[:2] == b"Vk" and packed.endswith(f.path.encode())
    again = load_checked(packed)
    assert type(again) is File and (again.path, again.hash) == (f.path, f.hash)
    labelled = dumps(LabelledFile(f.path, "reads"), "t")
    assert labelled[:2] == b"Vp" and load_checked(labelled).label == "reads"
    (tmp_path / "a.txt").write_text("changed")
    with pytest.raises(StaleResultError):
        load_checked(packed)


class Matrix(Value):
    """A Value that serializes itself (say, in a compact format of its own)."""

    def __init__(self, rows):
        self.rows = rows

    def serialize(self):
        return ";".join(",".join(map(str, row)) for row in self.rows).encode()

    @classmethod
    def deserialize(cls, raw_type, data):
        matrix = cls([[int(x) for x in row.split(",")] for row in data.decode().split(";")])
        matrix.restored = True
        return matrix


@task()
def identity_matrix(n):
    return {"m": Matrix([[int(i == j) for j in range(n)] for i in range(n)])}


def test_a_value_that_serializes_itself_is_stored_and_replayed_its_way(tmp_path):
    data = ResultSerializer().dumps([Matrix([[1, 2], [3, 4]])], "t")
    assert b"1,2;3,4" in data
    assert pickle.loads(data)[0].rows == [[1, 2], [3, 4]] and pickle.loads(data)[0].restored
    scheduler = lmdb_scheduler(tmp_path)
    scheduler.run(identity_matrix(2))
    again = Scheduler(store=LmdbStore(str(tmp_path / "cache"))).run(identity_matrix(2))
    assert again["m"].rows == [[1, 0], [0, 1]] and again["m"].restored
