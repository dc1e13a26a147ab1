"""Read one string column of a Parquet file without pyarrow. Used in chapter 6.

The GloVe package stores its word list as Parquet. ``pandas.read_parquet`` needs
pyarrow or fastparquet; where neither is installed, this reader decodes the one
layout that file uses: a single column of strings in snappy-compressed pages,
first a dictionary page (words in order of first appearance) with
dictionary-encoded data pages, then plain-encoded data pages. Anything else
raises ``ValueError`` rather than guess.
"""

from __future__ import annotations

import struct
from pathlib import Path

__all__ = ["read_string_column"]

_DATA_PAGE, _DICTIONARY_PAGE = 0, 2
_PLAIN, _RLE_DICTIONARY, _SNAPPY = 0, 8, 1


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        byte = buf[i]
        i += 1
        out |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return out, i


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _value(buf: bytes, i: int, kind: int) -> tuple[object, int]:
    """One value of the Thrift compact protocol (Parquet's metadata encoding)."""
    if kind in (1, 2):
        return kind == 1, i
    if kind == 3:
        return buf[i], i + 1
    if kind in (4, 5, 6):
        n, i = _varint(buf, i)
        return _zigzag(n), i
    if kind == 7:
        return struct.unpack_from("<d", buf, i)[0], i + 8
    if kind == 8:
        n, i = _varint(buf, i)
        return bytes(buf[i:i + n]), i + n
    if kind in (9, 10):
        head = buf[i]
        i += 1
        n, elem = head >> 4, head & 0xF
        if n == 15:
            n, i = _varint(buf, i)
        items = []
        for _ in range(n):
            item, i = _value(buf, i, elem)
            items.append(item)
        return items, i
    if kind == 12:
        return _struct(buf, i)
    raise ValueError(f"unsupported Thrift type {kind}")


def _struct(buf: bytes, i: int) -> tuple[dict[int, object], int]:
    fields: dict[int, object] = {}
    field_id = 0
    while True:
        head = buf[i]
        i += 1
        if head == 0:
            return fields, i
        delta, kind = head >> 4, head & 0xF
        if delta:
            field_id += delta
        else:
            n, i = _varint(buf, i)
            field_id = _zigzag(n)
        fields[field_id], i = _value(buf, i, kind)


def _snappy(buf: bytes) -> bytes:
    """Decompress a raw snappy block (literals and back-references)."""
    size, i = _varint(buf, 0)
    out = bytearray()
    while i < len(buf):
        tag = buf[i]
        i += 1
        if tag & 3 == 0:  # literal run
            length = tag >> 2
            if length >= 60:
                k = length - 59
                length = int.from_bytes(buf[i:i + k], "little")
                i += k
            out += buf[i:i + length + 1]
            i += length + 1
            continue
        if tag & 3 == 1:
            length, offset = ((tag >> 2) & 7) + 4, ((tag >> 5) << 8) | buf[i]
            i += 1
        else:
            width = 2 if tag & 3 == 2 else 4
            length, offset = (tag >> 2) + 1, int.from_bytes(buf[i:i + width], "little")
            i += width
        for _ in range(length):  # byte by byte: a copy may overlap its own output
            out.append(out[-offset])
    if len(out) != size:
        raise ValueError("corrupt snappy block")
    return bytes(out)


def _plain_strings(data: bytes, start: int, count: int) -> list[str]:
    out, i = [], start
    for _ in range(count):
        n = struct.unpack_from("<i", data, i)[0]
        out.append(data[i + 4:i + 4 + n].decode("utf-8"))
        i += 4 + n
    return out


def read_string_column(path: str | Path) -> list[str]:
    """All values of a one-column Parquet file of unique, non-null strings, in row order."""
    buf = Path(path).read_bytes()
    footer = struct.unpack_from("<i", buf, len(buf) - 8)[0]
    meta_start = len(buf) - 8 - footer
    n_rows = _struct(buf, meta_start)[0][3]
    dictionary: list[str] = []
    words: list[str] = []
    pos = 4
    while pos < meta_start:
        header, pos = _struct(buf, pos)
        data = _snappy(buf[pos:pos + header[3]])
        pos += header[3]
        if header[1] == _DICTIONARY_PAGE:
            dictionary = _plain_strings(data, 0, header[7][1])
            continue
        page = header[5]
        if header[1] != _DATA_PAGE or page[2] not in (_PLAIN, _RLE_DICTIONARY):
            raise ValueError("unsupported Parquet page layout")
        if page[2] == _PLAIN:
            skip = 4 + struct.unpack_from("<i", data, 0)[0]  # definition levels
            words.extend(_plain_strings(data, skip, page[1]))
        else:
            # Unique words: the dictionary lists them in row order, so the
            # dictionary-encoded rows are the dictionary itself.
            words.extend(dictionary[len(words):len(words) + page[1]])
    if len(words) != n_rows or len(set(words)) != n_rows:
        raise ValueError("the column is not one of unique strings in the expected layout")
    return words
