"""The 0x0704 batch body encoder of the JT/T 808 codec: what it builds, the decoder reads back."""

from __future__ import annotations

import datetime as dt
import struct

import pytest

from greenisle.tracking.jt808.codec import (
    MAX_BODY_LEN,
    LocationBatch,
    Message,
    decode,
    encode,
    encode_location_batch_body,
    encode_location_body,
)

AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_a_backfill_batch_round_trips() -> None:
    items = [
        encode_location_body(latitude=31 + i / 10, longitude=121.0, time=AT, mileage_km=i) for i in range(3)
    ]
    body = encode_location_batch_body(items, kind=1)
    assert body[:5] == struct.pack(">HBH", 3, 1, len(items[0]))
    message = decode(encode(0x0704, body, phone="13800138000", serial=7, version=1))
    assert isinstance(message, Message) and isinstance(message.body, LocationBatch)
    batch = message.body
    assert (batch.declared_count, batch.kind, batch.errors) == (3, 1, ())
    assert [item.latitude for item in batch.items] == [31.0, 31.1, 31.2]
    assert [item.time for item in batch.items] == [AT] * 3


def test_an_empty_batch_and_a_batch_too_long_for_one_message() -> None:
    assert encode_location_batch_body([]) == b"\x00\x00\x00"
    item = encode_location_body(latitude=31.0, longitude=121.0, time=AT)
    with pytest.raises(ValueError, match="batch body longer"):
        encode_location_batch_body([item] * (MAX_BODY_LEN // len(item) + 1))
    with pytest.raises(ValueError, match="batch type"):
        encode_location_batch_body([item], kind=256)
