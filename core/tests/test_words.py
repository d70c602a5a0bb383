"""Durations in words."""

from __future__ import annotations

import pytest

from core.words import age_words, duration_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "0s"), (119, "119s"), (120, "2m"), (7199, "119m"), (7200, "2h"), (7260, "2h 1m"), (172800, "2d"), (-5, "0s")],
)
def test_age_words(seconds, words):
    assert age_words(seconds) == words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "0s"), (-3, "0s"), (45, "45s"), (59.6, "1m 0s"), (125, "2m 5s"), (3600, "1h 0m"), (3780, "1h 3m")],
)
def test_duration_words(seconds, words):
    assert duration_words(seconds) == words
