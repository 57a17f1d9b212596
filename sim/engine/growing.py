"""An array that grows at its end in amortised constant time per row.

A run appends every month to per-contact and per-customer tables. ``np.concatenate`` copies
the whole table each time, so a run of ``m`` months costs O(m^2) copies; doubling the
capacity when full (as Python's list does) makes appending O(1) per row, amortised.
"""

from __future__ import annotations

import numpy as np


class Growing:
    """Rows of a fixed shape and dtype, appended at the end.

    Parameters
    ----------
    shape
        The shape of one row, ``()`` for scalars.
    dtype
        The rows' dtype.

    Examples
    --------
    >>> ids = Growing((), np.uint64)
    >>> ids.extend(np.arange(3, dtype=np.uint64))
    >>> ids.values
    array([0, 1, 2], dtype=uint64)
    """

    def __init__(self, shape: tuple[int, ...] = (), dtype: type | np.dtype = float):
        self._data = np.zeros((16, *shape), dtype=dtype)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def values(self) -> np.ndarray:
        """The rows so far: a view, valid until the next :meth:`extend` or :meth:`replace`."""
        return self._data[: self._size]

    def extend(self, rows: np.ndarray) -> None:
        """Append ``rows`` (shape ``(n, *shape)``)."""
        end = self._size + len(rows)
        if end > len(self._data):
            grown = np.zeros(
                (max(end, 2 * len(self._data)), *self._data.shape[1:]), dtype=self._data.dtype
            )
            grown[: self._size] = self.values
            self._data = grown
        self._data[self._size : end] = rows
        self._size = end

    def replace(self, rows: np.ndarray) -> None:
        """Make ``rows`` the whole content (their row shape may differ from before)."""
        self._data = np.array(rows, dtype=self._data.dtype)
        self._size = len(rows)
