"""The protobuf wire format, just enough to read Chakra traces without a compiled schema.

A message is a sequence of fields ``(key varint, value)``: the key is ``field_number << 3 |
wire_type``; wire type 0 is a varint, 1 eight bytes, 2 a length-delimited byte string (strings,
nested messages, packed repeated numbers), 5 four bytes. Files of many messages (Chakra's
``.et``) prefix each message with its length as a varint.

Examples
--------
>>> list(fields(bytes([0x08, 0x96, 0x01, 0x12, 0x02, 0x68, 0x69])))
[(1, 0, 150), (2, 2, b'hi')]
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["ProtobufError", "fields", "varint_messages"]


class ProtobufError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if position >= len(data):
            raise ProtobufError(f"a varint runs past the end at byte {position}")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise ProtobufError(f"a varint longer than 10 bytes at byte {position}")


def fields(data: bytes, *, packed: bool = False) -> Iterator[tuple[int, int, int | bytes]]:
    """``(field number, wire type, value)`` for each field of a message.

    With ``packed=True`` the bytes are a packed run of varints, yielded as ``(0, 0, value)``.
    """
    position = 0
    while position < len(data):
        if packed:
            value, position = _varint(data, position)
            yield 0, 0, value
            continue
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError(f"field number 0 at byte {position}")
        if wire == 0:
            value, position = _varint(data, position)
            yield number, wire, value
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if position + width > len(data):
                raise ProtobufError("a fixed-width field runs past the end")
            yield number, wire, data[position : position + width]
            position += width
        elif wire == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise ProtobufError(f"a field of {length} bytes runs past the end")
            yield number, wire, data[position : position + length]
            position += length
        else:
            raise ProtobufError(f"unknown wire type {wire} at byte {position}")


def varint_messages(data: bytes) -> Iterator[bytes]:
    """The messages of a stream where each is preceded by its length as a varint."""
    position = 0
    while position < len(data):
        length, position = _varint(data, position)
        if position + length > len(data):
            raise ProtobufError(f"a message of {length} bytes runs past the end of the file")
        yield data[position : position + length]
        position += length
