"""npref.testing.compare: the measure every parity figure uses must be able to fail."""

import math

import numpy as np
import pytest

from npref.testing import assert_close, compare, tolerance_for


def test_identical_results_pass_with_zero_difference():
    a = {"w": np.arange(6.0).reshape(2, 3), "b": [1.0, 2.0]}
    r = compare(a, a, tol=1e-12)
    assert r.passed and r.max_rel_diff == 0.0 and r.count == 8 and r.where == "identical"


def test_a_difference_ten_times_the_tolerance_fails_and_says_where():
    b = np.array([[1.0, 2.0], [3.0, 4.0]])
    a = b.copy()
    a[1, 0] *= 1 + 1e-11
    with pytest.raises(AssertionError, match=r"\[1, 0\].*actual=3.00000000003"):
        assert_close(a, b, tol=1e-12)


@pytest.mark.parametrize("actual,expected,words", [
    ({"a": np.ones(2)}, {"b": np.ones(2)}, "keys differ"),
    (np.ones(3), np.ones(4), "shapes differ"),
    (np.ones(3, np.float32), np.ones(3), "dtypes differ"),
    ([1.0, 2.0], [1.0, 2.0, 3.0], "lengths differ"),
])
def test_structural_differences_fail(actual, expected, words):
    r = compare(actual, expected, tol=1e-5)
    assert not r.passed and math.isinf(r.max_rel_diff) and words in r.where


def test_nan_matches_only_nan():
    assert compare(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), tol=1e-12).passed
    assert not compare(np.array([np.nan, 1.0]), np.array([0.0, 1.0]), tol=1e-12).passed
    assert not compare(np.array([np.inf]), np.array([1.0]), tol=1e-12).passed


def test_floors():
    expected = np.array([[1e3, 1e-9], [1e-9, 1e-9]])    # element [0, 0] went 1e3 -> 1e-9
    actual = expected + np.array([[0, 0], [1e-13, 0]])
    assert not compare(actual, expected, tol=1e-12, floor=1e-12).passed
    assert compare(actual, expected, tol=1e-12, floor="history").passed      # 1e-13 / 1e3
    assert not compare(actual + [[0, 0], [0, 1e-13]], expected, tol=1e-12,
                       floor="history").passed                               # 1e-13 / 1e-9
    assert compare(actual, expected, tol=1e-12, floor="norm").passed
    zeros = np.zeros(3)
    assert not compare(zeros + 1e-300, zeros, tol=1e-12, floor="history").passed


def test_tolerances_of_the_spec():
    assert tolerance_for(np.float64) == 1e-12 and tolerance_for("float32") == 1e-5
    with pytest.raises(ValueError, match="dtype must be one of"):
        tolerance_for(np.float16)
