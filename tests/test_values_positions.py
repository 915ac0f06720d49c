"""ids_positions: where each customer id sits in another list of ids (Arrow hash lookup for text ids).

Reference: a brute-force dictionary of first positions, and pandas' ``Index.get_indexer``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clm_utils.data.values import ids_positions


def _brute(values, other) -> np.ndarray:
    first: dict[object, int] = {}
    for i, x in enumerate(other):
        first.setdefault(x, i)
    return np.array([first.get(x, -1) for x in values], dtype=np.int64)


def test_text_ids_keep_leading_zeros_and_absent_ids_are_minus_one():
    rng = np.random.default_rng(0)
    pool = ["007", "0070", "70", "7", "0", "00", "", "k03c0004711", "K03C0004711", "é", "e\u0301"]
    pool += [f"{k:0{w}d}" for k, w in zip(rng.integers(0, 500, 300), rng.integers(1, 5, 300))]
    values = pd.Index(pd.array(rng.choice(pool, 400), dtype="str"))
    other = pd.Index(pd.array(sorted(set(rng.choice(pool, 150))), dtype="str"))
    got = ids_positions(values, other)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, _brute(list(values), list(other)))
    np.testing.assert_array_equal(got, other.get_indexer(values))
    assert (got == -1).any() and (got >= 0).any()
    # a Series, an object-dtype list and a plain list give the same answer
    np.testing.assert_array_equal(ids_positions(pd.Series(values), list(other)), got)
    np.testing.assert_array_equal(ids_positions(values.astype(object), np.array(list(other), dtype=object)), got)


def test_repeated_ids_in_the_other_list_give_the_first_position():
    values = pd.Index(["b", "a", "z", "b"], dtype="str")
    other = pd.Index(["a", "b", "a", "b"], dtype="str")
    np.testing.assert_array_equal(ids_positions(values, other), [1, 0, -1, 1])


def test_numeric_ids_and_empty_lists():
    np.testing.assert_array_equal(ids_positions(pd.Index([3, 1, 9]), pd.Index([1, 2, 3])), [2, 0, -1])
    assert ids_positions(pd.Index([], dtype="str"), pd.Index(["a"], dtype="str")).shape == (0,)
    np.testing.assert_array_equal(ids_positions(pd.Index(["a"], dtype="str"), pd.Index([], dtype="str")), [-1])


def test_labels_in_equals_text_comparison():
    """labels_in (one comparison per distinct label) against pandas' row-by-row text comparison."""
    from clm_utils.data.values import labels_in

    cases = [
        pd.Series(pd.Categorical(["decline", "active", None, "decline"], categories=["active", "decline", "unused"])),
        pd.Series(["decline", "terminated", None, "new"], dtype="str"),
        pd.Series([1, 2, 2, 3], dtype=object),
    ]
    for values in cases:
        for texts in (("decline",), ("decline", "terminated"), ("2",), ()):
            expected = values.astype(object).where(values.notna()).map(lambda v: str(v) in texts if pd.notna(v) else False)
            assert labels_in(values, texts).tolist() == expected.tolist()
