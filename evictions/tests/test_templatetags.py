"""Numbers of the eviction pages in words."""

from __future__ import annotations

import pytest

from evictions.templatetags.eviction_words import minutes_words


@pytest.mark.parametrize(
    ("minutes", "words"),
    [(10080, "7 days"), (2880, "2 days"), (1440, "24 hours"), (120, "2 hours"), (90, "90 minutes"), (60, "60 minutes"),
     (1, "1 minute"), (None, "")],
)  # fmt: skip
def test_minutes_words(minutes, words):
    assert minutes_words(minutes) == words
