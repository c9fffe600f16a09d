"""Job id -> slot number for one queue: an open-addressing table of packed ints.

Why not a dict keyed by job id: deleting a key reads the id string (for its
hash) and two parts of the dict, three cache misses per pop at a million
queued jobs, which made pop cost grow with the queue. Here the queue keeps
each job's id hash next to its row, so forgetting a slot reads one stretch
of one int array, and nothing else.

A cell holds the low 32 bits of the id hash over slot + 1 (0: empty).
Linear probing, at most 40% full (runs, walked in Python, stay about one
cell long); deletion shifts the rest of the run
back instead of leaving a tombstone, so the table never needs cleaning,
only resizing as the queue grows or drains. The hash bits are a filter: a
lookup asks the caller to confirm that a candidate slot holds the id.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable

Holds = Callable[[int, str], bool]  # does this slot hold this job id?

LOW_32 = 0xFFFFFFFF
_MIN_CELLS = 8


class SlotIndex:
    __slots__ = ("_cells", "_mask", "live")

    def __init__(self) -> None:
        self._cells: array[int] = array("Q", bytes(8 * _MIN_CELLS))
        self._mask = _MIN_CELLS - 1
        self.live = 0  # slots filed (read-only outside)

    def find(self, hash_: int, job_id: str, holds: Holds) -> int | None:
        """The slot filed under `hash_` that `holds` confirms holds `job_id`."""
        cells, mask, tag = self._cells, self._mask, hash_ & LOW_32
        i = hash_ & mask
        while cell := cells[i]:
            if cell >> 32 == tag and holds((cell & LOW_32) - 1, job_id):
                return (cell & LOW_32) - 1
            i = (i + 1) & mask
        return None

    def add(self, hash_: int, slot: int, job_id: str, holds: Holds) -> bool:
        """File `slot` under `hash_`, unless a slot that `holds` the same id already is."""
        if 5 * (self.live + 1) > 2 * len(self._cells):
            self._resize(2 * len(self._cells))
        cells, mask, tag = self._cells, self._mask, hash_ & LOW_32
        i = hash_ & mask
        while cell := cells[i]:
            if cell >> 32 == tag and holds((cell & LOW_32) - 1, job_id):
                return False
            i = (i + 1) & mask
        cells[i] = tag << 32 | (slot + 1)
        self.live += 1
        return True

    def discard(self, hash_: int, slot: int) -> None:
        """Forget `slot`, filed under `hash_` (the caller kept it: no id is read).

        Only the hash's low 32 bits matter here, so the caller may keep just those.
        """
        cells, mask = self._cells, self._mask
        i = hash_ & mask
        while (cells[i] & LOW_32) != slot + 1:
            if not cells[i]:
                raise KeyError(slot)
            i = (i + 1) & mask
        j = i  # i is now the hole; later cells of the run may move back into it
        while True:
            j = (j + 1) & mask
            cell = cells[j]
            if not cell:
                break
            home = (cell >> 32) & mask
            # A cell whose home lies in (i, j], cyclically, must stay after its home.
            if (home <= i or home > j) if i <= j else (j < home <= i):
                cells[i] = cell
                i = j
        cells[i] = 0
        self.live -= 1

    def tidy(self) -> None:
        """Shrink a table that a drained queue left mostly empty."""
        if len(self._cells) > _MIN_CELLS and 8 * self.live < len(self._cells):
            size = _MIN_CELLS
            while size < 4 * self.live:
                size *= 2
            self._resize(size)

    def _resize(self, size: int) -> None:
        kept = [cell for cell in self._cells if cell]
        cells: array[int] = array("Q", bytes(8 * size))
        mask = size - 1
        for cell in kept:
            i = (cell >> 32) & mask
            while cells[i]:
                i = (i + 1) & mask
            cells[i] = cell
        self._cells, self._mask = cells, mask
