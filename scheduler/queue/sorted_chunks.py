"""Rows kept sorted by a float key, as a list of short sorted chunks.

Why not a binary heap: at a million queued jobs a heap pop sifts through ~20
levels scattered over memory, a cache miss each, so its cost grew with the
queue. Here the last row is the end of the last chunk (O(1)); an insert or a
removal bisects the array of chunk maxima (tens of KiB, stays in cache) and
then one chunk, and shifts at most one chunk of values.

Why columns: a row is a key and a few values, each value in its own column
per chunk, an `array` for numbers (8 or 4 bytes, no object per value) or a
list for objects. Taking the last row pops each column, so the row's objects
are handed over without being read at all.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, MutableSequence, Sequence
from itertools import compress
from typing import Any

# Measured at a million rows: 64 to 1024 cost about the same per insert and
# take (cache misses dominate, not shifting); 512 keeps the chunk index short.
DEFAULT_CHUNK = 512
OBJECT = "O"  # a column of Python objects (a list); any other code is an array typecode

Column = MutableSequence[Any]
Row = list[Any]
Position = tuple[int, int]  # (chunk, index): valid until the next change
_DEAD = bytes([1] + [0] * 255)  # bytes.translate table: 1 where a liveness byte is 0


class SortedChunks:
    """Rows in ascending key order; rows with equal keys keep their insertion order.

    `codes` names the columns (OBJECT or an array typecode each).
    `new_ties_first` decides where a row goes among equal keys: before them
    (so that taking from the end takes the oldest of a tie first) or after
    them (so that reading from the start reads the oldest first). A chunk is
    split above `max_chunk` rows and joined to a neighbour below an eighth of
    it (tests use tiny chunks to reach every edge with few rows).
    """

    __slots__ = ("_bisect", "_codes", "_cols", "_join", "_keys", "_len", "_maxes", "_split")

    def __init__(self, codes: str, *, new_ties_first: bool, max_chunk: int = DEFAULT_CHUNK) -> None:
        if max_chunk < 2:
            raise ValueError("max_chunk must be at least 2")
        self._codes = codes
        self._keys: list[array[float]] = []
        self._cols: list[list[Column]] = []
        self._maxes: array[float] = array("d")  # the last key of each chunk
        self._len = 0
        self._bisect = bisect_left if new_ties_first else bisect_right
        self._split = max_chunk
        self._join = max(max_chunk // 8, 2)

    def __len__(self) -> int:
        return self._len

    def _column(self, code: str, values: Sequence[Any] = ()) -> Column:
        return list(values) if code == OBJECT else array(code, values)

    def insert(self, key: float, row: Sequence[Any]) -> None:
        maxes = self._maxes
        if not maxes:
            self._keys.append(array("d", (key,)))
            pairs = zip(self._codes, row, strict=True)
            self._cols.append([self._column(code, (value,)) for code, value in pairs])
            maxes.append(key)
            self._len = 1
            return
        find = self._bisect
        c = find(maxes, key)
        if c == len(maxes):
            c -= 1
        keys = self._keys[c]
        i = find(keys, key)
        keys.insert(i, key)
        for column, value in zip(self._cols[c], row, strict=True):
            column.insert(i, value)
        self._len += 1
        if i == len(keys) - 1:
            maxes[c] = key
        if len(keys) > self._split:
            self._split_chunk(c)

    def first_key(self) -> float | None:
        return self._keys[0][0] if self._len else None

    def key_at(self, at: Position) -> float:
        return self._keys[at[0]][at[1]]

    def row_at(self, at: Position) -> Row:
        return [column[at[1]] for column in self._cols[at[0]]]

    def find(self, key: float, column: int, value: object, mask: int = -1) -> Position | None:
        """Where the row filed under `key` holds `value` in `column`.

        Objects compare by identity, numbers by equality of their `mask` bits.
        """
        same_object = self._codes[column] == OBJECT
        maxes = self._maxes
        c = bisect_left(maxes, key)
        while c < len(maxes):
            keys = self._keys[c]
            values = self._cols[c][column]
            i = bisect_left(keys, key)
            while i < len(keys) and keys[i] == key:
                held = values[i]
                if held is value or (not same_object and held & mask == value):
                    return c, i
                i += 1
            if i < len(keys):
                return None
            c += 1  # equal keys may go on in the next chunk
        return None

    def positions(self) -> Iterator[Position]:
        """Every position in ascending order; stop iterating before changing anything."""
        for c, keys in enumerate(self._keys):
            for i in range(len(keys)):
                yield c, i

    def descending(self, *columns: int) -> Iterator[tuple[Any, ...]]:
        for chunk in reversed(self._cols):
            yield from zip(*(reversed(chunk[column]) for column in columns), strict=True)

    def take_last(self, accept: Callable[[Any], bool] | None = None) -> Row | None:
        """Remove and return the last row whose first value `accept` takes; others stay."""
        if not self._len:
            return None
        cols = self._cols
        if accept is None:
            return self.delete((len(cols) - 1, len(self._keys[-1]) - 1))
        for c in range(len(cols) - 1, -1, -1):
            values = cols[c][0]
            for i in range(len(values) - 1, -1, -1):
                if accept(values[i]):
                    return self.delete((c, i))
        return None

    def delete(self, at: Position) -> Row:
        c, i = at
        keys = self._keys[c]
        row = [column.pop(i) for column in self._cols[c]]
        del keys[i]
        self._len -= 1
        left = len(keys)
        if not left:
            del self._keys[c]
            del self._cols[c]
            del self._maxes[c]
        elif i == left:
            # Taking from the end (the usual pop) lets the chunk run down to
            # empty: a join there would only be undone by the next split.
            self._maxes[c] = keys[-1]
        elif left < self._join and len(self._keys) > 1:
            self._join_chunk(c)
        return row

    def chunk_count(self) -> int:
        return len(self._keys)

    def retain(self, c: int, column: int, alive: bytearray) -> array[int]:
        """In chunk c, keep the rows whose `column` value v has alive[v] set; return the others.

        One chunk at a time, so a caller can spread the clean-up of stale
        rows over many calls; C loops over numbers, touching no object when
        all columns are numbers. The column must be an integer array.
        """
        if self._codes[column] == OBJECT:
            raise ValueError("retain needs an integer column")
        chunk = self._cols[c]
        mask = bytes(map(alive.__getitem__, chunk[column]))
        dead = compress(chunk[column], mask.translate(_DEAD))
        dropped: array[int] = array(self._codes[column], dead)
        if not dropped:
            return dropped
        keys = self._keys[c] = array("d", compress(self._keys[c], mask))
        self._cols[c] = [
            self._column(code, list(compress(values, mask)))
            for code, values in zip(self._codes, chunk, strict=True)
        ]
        self._len -= len(dropped)
        if not keys:
            del self._keys[c]
            del self._cols[c]
            del self._maxes[c]
        else:
            self._maxes[c] = keys[-1]
            if len(keys) < self._join and len(self._keys) > 1:
                self._join_chunk(c)
        return dropped

    # Object columns change chunks by pop() into a new list: the references
    # move without touching the objects. Slicing or extend() would bump each
    # object's reference count, a cache miss per row in a large queue.

    def _split_chunk(self, c: int) -> None:
        keys = self._keys[c]
        half = len(keys) >> 1
        upper: list[Column] = []
        for code, column in zip(self._codes, self._cols[c], strict=True):
            if code == OBJECT:
                moved = [column.pop() for _ in range(len(column) - half)]
                moved.reverse()
                upper.append(moved)
            else:
                upper.append(column[half:])
                del column[half:]
        self._keys.insert(c + 1, keys[half:])
        self._cols.insert(c + 1, upper)
        del keys[half:]
        self._maxes.insert(c, keys[-1])

    def _join_chunk(self, c: int) -> None:
        """Merge a chunk that has run low into its neighbour, so chunks stay few."""
        if c + 1 == len(self._keys):
            c -= 1
        upper = self._cols.pop(c + 1)
        lower = self._cols[c]
        for j, code in enumerate(self._codes):
            if code == OBJECT:
                parts = (upper[j], lower[j])
                joined = [part.pop() for part in parts for _ in range(len(part))]
                joined.reverse()
                lower[j] = joined
            else:
                lower[j].extend(upper[j])
        self._keys[c].extend(self._keys.pop(c + 1))
        del self._maxes[c]
        if len(self._keys[c]) > self._split:
            self._split_chunk(c)
