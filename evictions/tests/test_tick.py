"""The engine's beat tick: it records when it ran (for /metrics)."""

from __future__ import annotations

import time

import pytest

from core.heartbeat import last_tick
from evictions.tasks import tick


@pytest.mark.django_db
def test_the_tick_records_when_it_ran():
    before = time.time()
    tick()
    recorded = last_tick()
    assert recorded is not None and before <= recorded <= time.time()
