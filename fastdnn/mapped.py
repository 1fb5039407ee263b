"""Reading a memory-mapped data set without letting it fill the resident memory.

Pages of a file map that a process has touched count in its resident set
(``RssFile``) for as long as they stay mapped: the kernel only takes them
back under memory pressure.  Gathering random mini-batches from a map
touches, over an epoch, every page of the file, so the peak resident memory
of a plain memory-mapped epoch grows to the size of the data set (measured:
see ``docs/scaling.md``).

The fix chosen here keeps the map and the one gather kernel: a
:class:`PageBudget` counts the bytes the gathers have touched and, every
``budget`` bytes, tells the kernel with ``madvise(MADV_DONTNEED)`` that this
process no longer needs the map's pages.  For a read-only file map that
drops them from the page tables only -- they stay in the page cache, so a
page read again soon costs a minor fault, not a disk read -- and the
resident memory stays below ``budget`` plus what the process owns anyway.
"""

import mmap

import numpy as np

#: Bytes of a map touched between two releases of its pages.
DEFAULT_BUDGET = 32 << 20

_PAGE = mmap.PAGESIZE
# Largest piece of a file that one page fault may map (a PMD-sized folio).
_MAX_FOLIO = 2 << 20


def file_map_of(arr):
    """The ``mmap.mmap`` behind ``arr`` (a ``np.memmap`` or any view of one), else ``None``."""
    base = arr
    while base is not None:
        if isinstance(base, np.memmap):
            return getattr(base, "_mmap", None)
        base = getattr(base, "base", None)
    return None


class PageBudget:
    """Release the pages of one file map every ``budget`` bytes of reads.

    Parameters
    ----------
    file_map : mmap.mmap
    budget : int, default :data:`DEFAULT_BUDGET`
        Bytes of the map that may be resident at once (an upper estimate:
        every read is counted from the start of its first page to the end of
        its last page).
    """

    def __init__(self, file_map, budget=DEFAULT_BUDGET):
        self.file_map = file_map
        self.budget = int(budget)
        self.touched = 0
        self.releases = 0
        self._usable = hasattr(file_map, "madvise") and hasattr(mmap, "MADV_DONTNEED")

    def read(self, n_items, item_bytes):
        """Count ``n_items`` reads of ``item_bytes`` contiguous bytes each; release when over budget."""
        # A run of item_bytes can straddle one more page than it fills.
        self.touched += n_items * ((item_bytes + _PAGE - 1) // _PAGE + 1) * _PAGE
        if self.touched >= self.budget:
            self.release()

    def release(self):
        """Drop every page of the map from this process's resident set (they stay in the page cache)."""
        self.touched = 0
        if self._usable and not self.file_map.closed:
            self.file_map.madvise(mmap.MADV_DONTNEED)
            self.releases += 1


    def gather_rows(self, gather_rows, rows, indices, start, out_rows):
        """``gather_rows(rows, indices, start, out_rows)`` in pieces, releasing the map's pages after each.

        A fault on a file map can map a whole page-cache folio (up to 2 MiB
        on Linux with large folios: measured on ext4, 1,024 random rows of a
        256 MiB file made 235 MiB resident), so the bytes read say little
        about the bytes mapped.  Rows are therefore gathered ``budget / 2 MiB``
        at a time, which bounds what one piece can map by the budget.
        """
        b = out_rows.shape[0]
        row_bytes = rows.shape[1] * rows.itemsize
        step = max(1, self.budget // (_MAX_FOLIO + row_bytes + _PAGE))
        for j in range(0, b, step):
            gather_rows(rows, indices, start + j, out_rows[j:j + step])
            self.release()


def budget_for(arr, budget=None):
    """A :class:`PageBudget` for the file map behind ``arr``, or ``None`` when ``arr`` is in memory."""
    file_map = file_map_of(arr)
    return None if file_map is None else PageBudget(file_map, DEFAULT_BUDGET if budget is None else budget)


def count_non_finite_in_chunks(arr, pages, count_non_finite):
    """Whether ``arr`` (C-contiguous) holds a NaN or an infinity, reading ``pages.budget`` bytes at a time.

    ``count_non_finite(flat)`` is the in-memory test; between chunks the map's
    pages are released, so a scan of the whole file keeps the resident
    memory within the budget.
    """
    flat = arr.reshape(-1)
    step = max(1, pages.budget // (2 * flat.itemsize))
    try:
        for start in range(0, flat.size, step):
            if count_non_finite(flat[start:start + step]):
                return True
            pages.release()
    finally:
        pages.release()
    return False
