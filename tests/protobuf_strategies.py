"""Hypothesis strategies that build any protobuf request from its descriptor.

Values lean on the edges a hostile or buggy client sends: empty and huge
strings, job ids of every shape, negative and huge numbers, enum values the
schema does not name, durations far outside any sensible range.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_UINT32 = (0, 2**32 - 1)
_UINT64 = (0, 2**64 - 1)

_EDGE_STRINGS = [
    "",
    " ",
    "qpu",
    "emulator",
    "no-such-backend",
    "00000000-0000-0000-0000-000000000000",
    "6f9d3c1e-8d8a-4f0e-9a51-6a2f0c3b7e10",
    "../../etc/passwd",
    "' OR 1=1 --",
    "\x00",
    "é" * 70,
    "x" * 65,
    "x" * 100_000,
]


def _strings() -> st.SearchStrategy[str]:
    return st.sampled_from(_EDGE_STRINGS) | st.text(max_size=80) | st.uuids().map(str)


def _integers(bounds: tuple[int, int]) -> st.SearchStrategy[int]:
    low, high = bounds
    edges = [v for v in (0, 1, -1, 2, 1000, 10**9, 10**9 + 1, low, high) if low <= v <= high]
    return st.sampled_from(edges) | st.integers(low, high)


def _scalar(field: AnyDescriptor) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return _strings()
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=256) | st.sampled_from([b"", b"\x00" * 4096])
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_ENUM:
        return _integers((-3, 12))  # proto3 enums are open: unnamed values arrive too
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if kind in (
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SFIXED32,
    ):
        return _integers(_INT32)
    if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return _integers(_UINT32)
    if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return _integers(_UINT64)
    return _integers(_INT64)


# Descriptors are typed loosely: the C (upb) and Python descriptor classes differ in the stubs.
AnyDescriptor = Any


def _is_map(field: AnyDescriptor) -> bool:
    message_type = field.message_type
    return message_type is not None and bool(message_type.GetOptions().map_entry)


def _field_values(field: AnyDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _message_fields(field.message_type, depth + 1)
    return _scalar(field)


def _message_fields(descriptor: AnyDescriptor, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """A dict of field name -> value (nested dicts for messages) for some of the fields."""
    if depth > 3:
        return st.just({})
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        if _is_map(field):
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            parts[field.name] = st.dictionaries(
                _scalar(key_field), _field_values(value_field, depth), max_size=4
            ) | st.just({f"k{i}": "v" for i in range(70)})
        elif field.is_repeated:
            parts[field.name] = st.lists(_field_values(field, depth), max_size=3)
        else:
            parts[field.name] = _field_values(field, depth)
    return st.fixed_dictionaries({}, optional=parts)


def _fill(message: Message, values: dict[str, Any]) -> None:
    descriptor: AnyDescriptor = message.DESCRIPTOR
    for name, value in values.items():
        field = descriptor.fields_by_name[name]
        target = getattr(message, name)
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            for key, item in value.items():
                if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                    _fill(target[key], item)
                else:
                    target[key] = item
        elif field.is_repeated:
            for item in value:
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    _fill(target.add(), item)
                else:
                    target.append(item)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            target.SetInParent()
            _fill(target, value)
        else:
            setattr(message, name, value)


def requests(message_class: type[Message]) -> st.SearchStrategy[Message]:
    def build(values: dict[str, Any]) -> Message:
        message = message_class()
        _fill(message, values)
        return message

    return _message_fields(message_class.DESCRIPTOR, 0).map(build)


def mutated(data: bytes, source: st.DataObject) -> bytes:
    """The serialized bytes with a few flips, cuts and insertions."""
    draw = source.draw
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        position = draw(st.integers(0, len(buffer)))
        if action == "flip" and position < len(buffer):
            buffer[position] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del buffer[position : position + draw(st.integers(1, 8))]
        else:
            buffer[position:position] = draw(st.binary(min_size=1, max_size=8))
    return bytes(buffer)
