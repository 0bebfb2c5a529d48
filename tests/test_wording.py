"""The comparative words of the pages come from one stated rule on measured numbers
(:mod:`experiments.findings.wording`): these properties hold for every pair of numbers."""

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from experiments.findings.wording import (
    ABOUT_THE_SAME,
    CLOSE,
    DIVERGED,
    FAR,
    POINT_WORDS,
    RATIO_WORDS,
    leads,
    measure,
    ranking,
    relation,
)

positive = st.floats(1e-12, 1e12, allow_nan=False)
fraction = st.floats(0.0, 1.0, allow_nan=False)
WORSE_ORDER = {ABOUT_THE_SAME: 0, CLOSE: 1, FAR: 2}


@given(a=positive)
def test_a_value_is_about_the_same_as_itself(a):
    assert relation(a, a) == ABOUT_THE_SAME
    assert relation(a / 2, a / 2, scale="points") == ABOUT_THE_SAME


@given(a=positive, k=st.floats(1e-6, 1e6), r=st.floats(1.0, 100.0))
def test_the_ratio_scale_does_not_depend_on_units(a, k, r):
    # Losses in other units, or a problem k times harder: the same words.
    b = a * r
    assume(math.isfinite(b * k) and b * k > 0 and a * k > 0)
    ratio = b / a
    assume(all(abs(ratio - bound) > 1e-9 * bound for bound, _ in RATIO_WORDS[:-1]))
    assert relation(b, a) == relation(b * k, a * k)


@given(a=positive, r1=st.floats(1.0, 50.0), r2=st.floats(1.0, 50.0))
def test_worse_never_reads_better(a, r1, r2):
    """The further a value trails, the stronger the word: never "close" where a nearer value
    was "far"."""
    near, far = sorted((r1, r2))
    w_near, w_far = relation(a * near, a), relation(a * far, a)
    assert WORSE_ORDER[w_near] <= WORSE_ORDER[w_far]


@given(a=positive, r=st.floats(1.0, 1e6))
def test_the_better_value_reads_ahead_or_the_same(a, r):
    word = relation(a, a * r)
    assert word in ("ahead", ABOUT_THE_SAME)
    assert (word == ABOUT_THE_SAME) == (r < RATIO_WORDS[0][0])


@given(a=fraction, b=fraction)
def test_points_follow_the_stated_thresholds(a, b):
    gap = 100 * abs(a - b)
    word = relation(min(a, b), max(a, b), scale="points", lower_is_better=False)
    assume(all(abs(gap - bound) > 1e-9 for bound, _ in POINT_WORDS[:-1]))
    expected = next(w for bound, w in POINT_WORDS if gap < bound)
    assert word == expected
    # and symmetric in meaning: the higher accuracy is ahead or the same
    assert relation(max(a, b), min(a, b), scale="points", lower_is_better=False) in (
        "ahead", ABOUT_THE_SAME)


@given(a=positive)
def test_a_diverged_value_is_never_ranked(a):
    for bad in (math.inf, math.nan):
        assert relation(bad, a) == DIVERGED
    assert relation(a, a, diverged=True) == DIVERGED
    text = ranking({"SGD": math.inf, "Adam": a})
    assert text.endswith("SGD not finite, diverged") and text.startswith("Adam")


def test_the_numbers_of_the_issue_read_as_they_are():
    # init-mnist's quick run: He 0.618, Xavier 1.98 — not "close behind".
    assert relation(1.98, 0.618) == FAR
    assert "Xavier 1.98, far behind (3.2×)" in ranking({"He": 0.618, "Xavier": 1.98})
    # A gap of 0.8 points between 98.2% and 97.4% is about the same; 36 points is far.
    assert relation(0.974, 0.982, scale="points", lower_is_better=False) == ABOUT_THE_SAME
    assert relation(0.379, 0.739, scale="points", lower_is_better=False) == FAR
    assert leads({"He": 0.618, "Xavier": 1.98, "std 0.01": 2.3}, "He")
    assert not leads({"He": 0.618, "Xavier": 0.64}, "He")      # within 10%: not "fastest"
    assert ranking({"a": 1.0, "b": 1.05}, best_word="fastest") == "a 1; b 1.05, about the same"


def test_measure_refuses_what_it_cannot_compare():
    with pytest.raises(ValueError, match="scale"):
        measure(1.0, 2.0, scale="log")
    with pytest.raises(ValueError, match="non-negative"):
        measure(-1.0, 2.0)
