"""redun's value system: types that say how they are hashed, checked, processed and pickled.

A `Value` subclass (File and Dir are ones) may define `get_hash()`, `is_valid()`,
`__getstate__`/`__setstate__`, `serialize()`/`deserialize()` and `preprocess()`/`postprocess()`;
a `ProxyValue` subclass with `type = SomeClass` says the same for a class it cannot change.
The registry (`get_type_registry()`) finds the Value of any object. The engine reaches these
hooks only for the objects that have them (DESIGN.md §7): the hashing core through
`__redun_hash__` or a hash hook, the result store through `traits_of` (a stored result is
marked when it holds a value with a validity check), and the graph through a preprocess hook
that is set only once some class defines `preprocess`.
"""
import dataclasses
import pickle
from typing import Any, Callable, Dict, Iterator, NamedTuple, Optional, Type

from redun_fast import _core, _graph


class InvalidValueError(ValueError):
    """A stored value whose type cannot be found or read back."""


def _overrides(cls: type, name: str, base: type) -> bool:
    return getattr(cls, name) is not getattr(base, name)


class Traits(NamedTuple):
    """What the engine must do with a type's instances beyond pickling them."""

    validated: bool  # is_valid() can be False: a stored result holding one is checked on replay
    serialized: bool  # serialize()/deserialize() replace pickling
    postprocessed: bool  # postprocess() may replace it in a task's result
    # The class defines __redun_pack__() -> bytes and the classmethod __redun_unpack__(bytes):
    # a result that is one such value is stored packed, which replays faster than a pickle
    # (File does: a task's File result is replayed in about half the time).
    packed: bool


PLAIN = Traits(False, False, False, False)


class TypeRegistry:
    """Value classes by type name, and the ProxyValue class of each proxied type."""

    def __init__(self) -> None:
        self._by_name: Dict[str, type] = {}
        self._proxies: Dict[type, type] = {}
        self._traits: Dict[type, Traits] = {}  # per raw type, found once

    def register(self, value_type: Type["Value"]) -> None:
        self._by_name[value_type.type_name] = value_type
        raw = value_type.__dict__.get("type")
        if raw is not None:  # a ProxyValue for a class of its own
            self._proxies[raw] = value_type
            _core.set_hash_hook(raw, lambda obj, proxy=value_type: proxy(obj).get_hash())
        self._traits.clear()
        if _overrides(value_type, "preprocess", Value) or (
                raw is not None and _overrides(value_type, "preprocess", ProxyValue)):
            _graph.use_preprocess(preprocess_arguments)

    def get_type_name(self, raw_type: type) -> str:
        value_type = self.get_type(raw_type, use_default=False)
        return value_type.type_name if value_type else f"{raw_type.__module__}.{raw_type.__qualname__}"

    def value_type(self, type_name: str) -> type:
        """The Value class registered as `type_name`."""
        value_type = self._by_name.get(type_name)
        if value_type is None:
            raise InvalidValueError(f"unknown value type {type_name!r}: import the module that "
                                    "defines it before reading values of that type")
        return value_type

    def parse_type_name(self, type_name: str) -> type:
        """The class of the values named `type_name` (a ProxyValue's is its `type`)."""
        value_type = self.value_type(type_name)
        return value_type.__dict__.get("type") or value_type

    def get_type(self, raw_type: type, use_default: bool = True) -> Optional[type]:
        """The Value class for instances of `raw_type`."""
        proxy = self._proxies.get(raw_type)
        if proxy is not None:
            return proxy
        if isinstance(raw_type, type) and issubclass(raw_type, Value):
            return raw_type
        return ProxyValue if use_default else None

    def get_value(self, raw_value: Any) -> "Value":
        """`raw_value` as a Value: itself, or wrapped in its ProxyValue."""
        proxy = self._proxies.get(type(raw_value))
        if proxy is not None:
            return proxy(raw_value)
        return raw_value if isinstance(raw_value, Value) else ProxyValue(raw_value)

    def traits_of(self, raw_type: type) -> Traits:
        traits = self._traits.get(raw_type)
        if traits is None:
            traits = self._traits[raw_type] = self._find_traits(raw_type)
        return traits

    def _find_traits(self, raw_type: type) -> Traits:
        proxy = self._proxies.get(raw_type)
        if proxy is not None:
            base = ProxyValue
        elif isinstance(raw_type, type) and issubclass(raw_type, Value):
            proxy, base = raw_type, Value
        else:
            return PLAIN
        return Traits(_overrides(proxy, "is_valid", base),
                      _overrides(proxy, "serialize", base),
                      _overrides(proxy, "postprocess", base),
                      "__redun_pack__" in proxy.__dict__)

    def is_valid(self, value: Any) -> bool:
        return self.get_value(value).is_valid()

    def is_valid_nested(self, nested_value: Any) -> bool:
        return all(self.is_valid(value) for value in iter_nested_value(nested_value))

    def get_hash(self, value: Any) -> str:
        return _core.hash_value(value)

    def serialize(self, value: Any) -> bytes:
        return self.get_value(value).serialize()

    def deserialize(self, type_name: str, data: bytes) -> Any:
        raw_type = self.parse_type_name(type_name)
        return self.get_type(raw_type).deserialize(raw_type, data)

    def preprocess(self, raw_value: Any, preprocess_args: dict) -> Any:
        return self.get_value(raw_value).preprocess(preprocess_args)

    def postprocess(self, raw_value: Any, postprocess_args: dict) -> Any:
        return self.get_value(raw_value).postprocess(postprocess_args)

    def parse_arg(self, raw_type: type, arg: str) -> Any:
        """A command-line argument as a value of `raw_type`."""
        value_type = self.get_type(raw_type, use_default=False)
        return value_type.parse_arg(raw_type, arg) if value_type else raw_type(arg)

    def iter_subvalues(self, raw_value: Any) -> Iterator["Value"]:
        return self.get_value(raw_value).iter_subvalues()


_registry = TypeRegistry()


def get_type_registry() -> TypeRegistry:
    return _registry


class Value:
    """A value that says how it is hashed, checked, pickled and processed (redun's Value).

    Subclasses are registered by their `type_name` (default "module.QualName"); set
    `register = False` in a class body to keep one out of the registry.
    """

    type_name: Optional[str] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("type_name"):
            raw = cls.__dict__.get("type")
            named = raw if raw is not None else cls
            cls.type_name = f"{named.__module__}.{named.__qualname__}"
        if cls.__dict__.get("register", True):
            _registry.register(cls)

    def __redun_hash__(self) -> str:  # the hashing core's hook (csrc/_core.pyx)
        return self.get_hash()

    def is_valid(self) -> bool:
        """False when the value no longer stands for what it did when it was cached (a File
        whose file changed): a cached result holding it is not replayed."""
        return True

    def get_hash(self, data: Optional[bytes] = None) -> str:
        """The value's hash; by default, of its pickle."""
        return _core.hash_value(self.serialize() if data is None else data)

    def serialize(self) -> bytes:
        return pickle.dumps(self, protocol=5)

    @classmethod
    def deserialize(cls, raw_type: type, data: bytes) -> Any:
        return pickle.loads(data)

    def __getstate__(self) -> dict:
        return dict(self.__dict__)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def preprocess(self, preprocess_args: dict) -> Any:
        """The value a task receives in place of this one (before the call is hashed)."""
        return self

    def postprocess(self, postprocess_args: dict) -> Any:
        """The value stored and passed on in place of this one when a task returns it."""
        return self

    @classmethod
    def parse_arg(cls, raw_type: type, arg: str) -> Any:
        return cls(arg)

    def iter_subvalues(self) -> Iterator["Value"]:
        return iter(())


class ProxyValue(Value):
    """A Value for instances of a class that cannot be changed: subclass it with `type = X`."""

    register = False
    type: Any = None

    def __init__(self, instance: Any) -> None:
        self.instance = instance

    def get_hash(self, data: Optional[bytes] = None) -> str:
        if data is None:
            data = pickle.dumps(self.instance, protocol=5)
        return _core.hash_value(data)

    def serialize(self) -> bytes:
        return pickle.dumps(self.instance, protocol=5)

    def preprocess(self, preprocess_args: dict) -> Any:
        return self.instance

    def postprocess(self, postprocess_args: dict) -> Any:
        return self.instance

    def iter_subvalues(self) -> Iterator["Value"]:
        if isinstance(self.instance, Value):
            return
        for value in iter_nested_value(self.instance):
            if isinstance(value, Value):
                yield value
                yield from value.iter_subvalues()


def restore(type_name: str, data: bytes) -> Any:
    """Unpickling a value that its type serialized itself (see `reduce_serialized`)."""
    return _registry.deserialize(type_name, data)


def reduce_serialized(obj: Any) -> tuple:
    """The pickle reduction of a value whose type serializes it."""
    value = _registry.get_value(obj)
    return restore, (type(value).type_name, value.serialize())


# Nested values, walked by the rules of the expression walks (csrc/_nested.pyx): list, tuple,
# namedtuple, dict (keys and values), set, frozenset, dataclass instances; all else is a leaf.
# Only values that need it go through these (pre/postprocessing, script staging).

def _children(value: Any) -> Optional[list]:
    cls = type(value)
    if cls in (list, tuple, set, frozenset) or (isinstance(value, tuple) and hasattr(cls, "_fields")):
        return list(value)
    if cls is dict:
        return list(value.keys()) + list(value.values())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, field.name) for field in dataclasses.fields(value)]
    return None


def iter_nested_value(value: Any) -> Iterator[Any]:
    """The leaves of a nested value."""
    stack = [value]
    while stack:
        value = stack.pop()
        children = _children(value)
        if children is None:
            yield value
        else:
            stack.extend(reversed(children))


def map_nested_value(func: Callable[[Any], Any], value: Any) -> Any:
    """`value` with each leaf replaced by func(leaf); containers are rebuilt only if a leaf
    changed, so an unchanged value comes back as itself."""
    cls = type(value)
    if cls in (list, tuple, set, frozenset):
        items = [map_nested_value(func, item) for item in value]
        return value if all(a is b for a, b in zip(items, value)) else cls(items)
    if isinstance(value, tuple) and hasattr(cls, "_fields"):
        items = [map_nested_value(func, item) for item in value]
        return value if all(a is b for a, b in zip(items, value)) else cls(*items)
    if cls is dict:
        items = {map_nested_value(func, k): map_nested_value(func, v) for k, v in value.items()}
        same = len(items) == len(value) and all(
            a is b and items[a] is value[b] for a, b in zip(items, value))
        return value if same else items
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: map_nested_value(func, getattr(value, field.name))
                  for field in dataclasses.fields(value) if field.init}
        if all(fields[name] is getattr(value, name) for name in fields):
            return value
        return dataclasses.replace(value, **fields)
    return func(value)


def _processed(method: str, value: Any, args: dict) -> Any:
    def process(leaf: Any) -> Any:
        if _registry.traits_of(type(leaf)) is PLAIN and not isinstance(leaf, Value):
            return leaf
        return getattr(_registry.get_value(leaf), method)(args)
    return map_nested_value(process, value)


def preprocess_arguments(args: tuple, kwargs: dict) -> Optional[tuple]:
    """The graph's preprocess hook: (args, kwargs) with Values preprocessed, or None when
    nothing changed."""
    arguments = (args, kwargs)
    processed = _processed("preprocess", arguments, {})
    return None if processed is arguments else processed


def postprocess_result(value: Any, eval_hash: bytes) -> Any:
    """A task's result with its Values postprocessed (redun's pre_call_hash is the eval hash)."""
    return _processed("postprocess", value, {"pre_call_hash": eval_hash.hex()})
