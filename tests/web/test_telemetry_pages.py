"""What the readings drive, on the pages: device alerts in the command centre and on the bin page,
the bin's fill rate and predicted time to its threshold."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from greenisle.telemetry import maintenance
from web.helpers import page_text


def test_the_command_centre_shows_open_device_alerts_live(world, ingest, browser_as, settings):
    settings.GREENISLE = {**settings.GREENISLE, "TEMPERATURE_LIMIT_C": 45}
    ingest(30, at=timezone.now() - dt.timedelta(minutes=2), temperature_c=58)
    dispatcher = browser_as(world.dispatcher)
    page = page_text(dispatcher.get("/command-centre/"))
    assert "未解除的设备告警" in page
    assert world.bin.serial in page and "58.0 °C" in page
    live = dispatcher.get("/command-centre/", headers={"HX-Request": "true"})
    assert "58.0 °C" in page_text(live)
    # Cleared: gone from the command centre, kept on the bin page with its clearing time.
    ingest(30, at=timezone.now() - dt.timedelta(minutes=1), temperature_c=20)
    assert "58.0 °C" not in page_text(dispatcher.get("/command-centre/", headers={"HX-Request": "true"}))
    bin_page = page_text(dispatcher.get(f"/bins/{world.bin.pk}/"))
    assert "设备告警" in bin_page and "58.0 °C" in bin_page


def test_the_bin_page_shows_the_fill_rate_and_the_forecast(world, ingest, browser_as):
    start = timezone.now() - dt.timedelta(days=2)
    for hour in range(49):
        ingest(20 + 10 * hour / 24, at=start + dt.timedelta(hours=hour))
    maintenance.forecast_update()
    page = page_text(browser_as(world.alice).get(f"/bins/{world.bin.pk}/"))
    assert "填充速率" in page and "10.0 % / 天" in page
    world.bin.refresh_from_db()
    predicted = timezone.localtime(world.bin.state.predicted_full_at)
    assert predicted.strftime("%Y-%m-%d %H:%M") in page
