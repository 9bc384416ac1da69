"""Reading what a sandboxed interpreter reports, without trusting any of it.

Every line a sandbox writes is parsed with ``ast.literal_eval`` (nothing of it
is run) and must be a dict with string keys. Values that the solution
returned arrive in the tagged form the runner's ``plain`` writes: lists, str,
int, float, None and bool are themselves; ``("tuple", [...])``,
``("dict", [k1, v1, ...])``, ``("set", [...])``, ``("frozenset", [...])``,
``("int", hex)``, ``("float", hex)`` and ``("complex", hex, hex)`` stand for
the rest. ``decode`` turns them back into plain Python data and refuses
anything else, so what the judge compares can only be numbers, strings,
lists, dicts, sets, tuples, None and bool.
"""

from __future__ import annotations

import ast
from typing import Any

MAX_DEPTH = 120
NUMBERS = {"int": 1, "float": 1, "complex": 2}
CONTAINERS = {"tuple": tuple, "set": set, "frozenset": frozenset, "dict": dict}


class MalformedReport(ValueError):
    """A report line or value that does not follow the protocol (the code may have written it)."""


def parse_line(line: bytes) -> dict[str, Any]:
    """One report line as a dict with string keys, or MalformedReport."""
    try:
        message = ast.literal_eval(line.decode("utf-8", "replace"))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise MalformedReport(f"not a Python literal ({type(exc).__name__})") from None
    if not isinstance(message, dict) or not all(isinstance(key, str) for key in message):
        raise MalformedReport(f"not a dict with string keys but a {type(message).__name__}")
    return message


def decode(value: Any, depth: int = 0) -> Any:
    """The plain data a tagged value stands for; MalformedReport for anything else."""
    if depth > MAX_DEPTH:
        raise MalformedReport("a value nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is list:
        return [decode(item, depth + 1) for item in value]
    if kind is not tuple or not value or not isinstance(value[0], str):
        raise MalformedReport(f"a value of type {kind.__name__} where plain data was expected")
    tag, rest = value[0], value[1:]
    if tag in NUMBERS and len(rest) == NUMBERS[tag] and all(isinstance(part, str) for part in rest):
        try:
            if tag == "int":
                return int(rest[0], 16)
            parts = [float.fromhex(part) for part in rest]
        except (ValueError, OverflowError) as exc:
            raise MalformedReport(f"a malformed {tag!r} value ({exc})") from None
        return parts[0] if tag == "float" else complex(*parts)
    if tag not in CONTAINERS or len(rest) != 1 or not isinstance(rest[0], list):
        raise MalformedReport(f"a malformed or unknown kind of value {tag!r}")
    items = [decode(item, depth + 1) for item in rest[0]]
    if tag == "dict" and len(items) % 2:
        raise MalformedReport("a dict with a key but no value")
    try:
        if tag == "dict":
            return dict(zip(items[::2], items[1::2], strict=True))
        return CONTAINERS[tag](items)
    except TypeError as exc:  # an unhashable key or member
        raise MalformedReport(f"a malformed {tag!r} value ({exc})") from None
