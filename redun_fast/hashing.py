"""redun's hashing helpers, under its names, on redun_fast's hash (128-bit xxh3, hex).

The hashes differ from redun's (sha512 cut to 40 characters): they name values within
redun_fast, as redun's do within redun. `hash_struct` hashes a nested value by the canonical
encoding the cache uses (csrc/_core.pyx), so dict order does not matter.
"""
from typing import IO, Any

import xxhash

from redun_fast._core import hash_value


def hash_struct(struct: Any) -> str:
    """The hash of a nested value (lists, dicts, strings, numbers, ...)."""
    return hash_value(struct)


def hash_bytes(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def hash_text(text: str) -> str:
    return hash_bytes(text.encode("utf-8"))


def hash_tag_bytes(tag: str, data: bytes) -> str:
    """The hash of `data` under a tag: equal bytes under two tags hash apart."""
    digest = xxhash.xxh3_128(tag.encode("utf-8") + b"\0")
    digest.update(data)
    return digest.hexdigest()


def hash_stream(stream: IO, block_size: int = 1 << 20) -> str:
    """The hash of a stream's bytes, read to its end."""
    digest = xxhash.xxh3_128()
    for block in iter(lambda: stream.read(block_size), b""):
        digest.update(block)
    return digest.hexdigest()
