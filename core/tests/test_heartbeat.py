"""The tick's heartbeat: kept in Redis or beside the file-system broker's queue; a dead store never raises."""

from __future__ import annotations

from core import heartbeat


def test_a_file_system_broker_keeps_the_tick_time_beside_its_queue(settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.BROKER_DIR = tmp_path
    assert heartbeat.last_tick() is None
    heartbeat.record_tick(1700000000.25)
    assert heartbeat.last_tick() == 1700000000.25
    assert [path.name for path in tmp_path.iterdir()] == ["tick-last"]


def test_an_unreachable_store_neither_stops_the_tick_nor_the_scrape(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    heartbeat.record_tick()  # logged, not raised
    assert heartbeat.last_tick() is None
