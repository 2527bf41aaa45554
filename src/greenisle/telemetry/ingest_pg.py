"""The set-based ingest path on PostgreSQL: a whole JSON batch handed to one statement.

The HTTP batch endpoint and the MQTT listener pass the readings as JSON text. One statement parses
them, applies the validation rules of ``validation.reading_validate`` (the same regular expressions,
bounds, order of checks and rounding; an equivalence test holds the two together), drops repeats
within the batch, inserts the readings (``ON CONFLICT DO NOTHING``), moves each bin's state to its
newest reading only if newer, adds up the counters, and returns only what Python must act on: the
items that were not accepted and the bins whose new state may need a decision (threshold, emptied,
temperature). Python does no per-reading work, which is what makes 40,000 readings a second fit on
two cores beside the database (ADR 8).

Anything PostgreSQL cannot parse (a 30 February, an offset beyond ±15:59, a number too large for
numeric, a NUL escape) raises a data error: the statement runs inside a savepoint, so the caller
rolls back to it and takes the batch through the Python path, which has a rule for every input.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings
from django.db import DataError, connection, transaction

from greenisle.telemetry.decisions import Decision, apply_decisions, emptied_level
from greenisle.telemetry.ingest import ACCEPTED, DUPLICATE, IngestOutcome
from greenisle.telemetry.ingest_sql import STATE_ASSIGNMENTS, STATE_COLUMNS
from greenisle.telemetry.validation import (
    MAX_CLOCK_SKEW,
    MESSAGES,
    NUMBER_STRING_RE,
    NUMERIC_BOUNDS,
    QUALITY_RE,
    TIME_RE,
    raw_retention,
)

# How each item finds its bin. Every variant yields idx, item, device_id, enabled, threshold_pct and
# ``pre``: a refusal decided before validation (the serial), not counted against any bin.
_DEVICE_BY_SERIAL = """
    SELECT r.idx, r.item, b.id AS device_id, b.enabled, b.threshold_pct,
           CASE WHEN b.id IS NULL THEN 'serial_unknown' END AS pre
    FROM raw r LEFT JOIN devices_bin b
      ON b.collector_id = %(collector)s AND jsonb_typeof(r.item -> 'serial') = 'string'
     AND b.serial = r.item ->> 'serial'
"""
_DEVICE_FIXED = """
    SELECT r.idx, r.item, b.id AS device_id, b.enabled, b.threshold_pct,
           CASE WHEN COALESCE(jsonb_typeof(r.item -> 'serial'), 'null') = 'null'
                  OR (jsonb_typeof(r.item -> 'serial') = 'string' AND r.item ->> 'serial' = b.serial)
                THEN NULL ELSE 'serial_other' END AS pre
    FROM raw r CROSS JOIN devices_bin b WHERE b.id = %(device)s
"""
_DEVICE_PER_ITEM = """
    SELECT r.idx, r.item, b.id AS device_id, b.enabled, b.threshold_pct, NULL::text AS pre
    FROM raw r LEFT JOIN devices_bin b ON b.id = (%(devices)s::uuid[])[r.idx + 1]
"""


def _number_check(name: str) -> str:
    """NULL when the field is fine, else the message key. ``{name}_t``/``{name}_s`` are its JSON type
    and text; the text of a JSON number is checked against JSON's own number grammar by the parser."""
    low, high = NUMERIC_BOUNDS[name]
    required = f"'required:{name}'" if name == "fill_pct" else "NULL"
    return (
        f"CASE WHEN COALESCE(f.{name}_t, 'null') = 'null' THEN {required} "
        f"WHEN f.{name}_t = 'number' OR (f.{name}_t = 'string' AND f.{name}_s ~ %(number_re)s) THEN "
        f"CASE WHEN btrim(f.{name}_s, E' \\t\\n\\r')::numeric NOT BETWEEN {low} AND {high} "
        f"THEN 'out_of_range:{name}' END "
        f"ELSE 'not_a_number:{name}' END"
    )


def _number_value(name: str) -> str:
    return (
        f"CASE WHEN COALESCE(c.{name}_t, 'null') = 'null' THEN NULL "
        f"ELSE round(btrim(c.{name}_s, E' \\t\\n\\r')::numeric, 2) END"
    )


def _typed(name: str) -> str:
    return f"jsonb_typeof(r.item -> '{name}') AS {name}_t, r.item ->> '{name}' AS {name}_s"


_READING_COLUMNS = (
    "device_id, observed_at, device_time_raw, received_at, transport, fill_pct, net_weight_kg, "
    "temperature_c, door_open, battery_pct, quality, sequence"
)
_FIELDS = ("observed_at", "door_open", "sequence", "quality", *NUMERIC_BOUNDS)

_SQL = (
    """
WITH raw AS (
    -- generate_series with constant bounds gives the planner the true row count (it then hashes
    -- instead of looping); the items are parsed once, at planning.
    SELECT i AS idx, (%(readings)s::jsonb) -> i AS item FROM generate_series(0, %(count)s - 1) AS i
),
dev AS ({devices}),
f AS MATERIALIZED (
    -- Materialised: each expression below is evaluated once per item, however often c reads it.
    SELECT r.idx, r.device_id, r.enabled, r.threshold_pct, r.pre, jsonb_typeof(r.item) AS t, """
    + ", ".join(_typed(name) for name in _FIELDS)
    + """,
           (r.item ->> 'observed_at') ~ %(time_re)s AS time_ok
    FROM dev r
),
g AS MATERIALIZED (
    SELECT f.*, CASE WHEN f.time_ok AND (right(f.observed_at_s, 1) = 'Z'
                     OR strpos(substr(f.observed_at_s, 17), '+') > 0 OR strpos(substr(f.observed_at_s, 17), '-') > 0)
                THEN (f.observed_at_s)::timestamptz END AS ts
    FROM f
),
c AS (
    SELECT f.*, COALESCE(
        f.pre,
        CASE WHEN f.t <> 'object' THEN 'not_object' END,
        CASE WHEN f.observed_at_t IS NULL THEN 'required:observed_at'
             WHEN f.observed_at_t <> 'string' THEN 'not_a_time'
             WHEN NOT f.time_ok THEN 'bad_time'
             WHEN f.ts IS NULL THEN 'no_time_zone'
             WHEN f.ts - %(now)s > %(skew)s THEN 'future'
             WHEN %(now)s - f.ts > %(retention)s THEN 'too_old' END,
        CASE WHEN f.door_open_t NOT IN ('null', 'boolean') THEN 'not_boolean' END,
        CASE WHEN COALESCE(f.sequence_t, 'null') <> 'null' AND NOT (f.sequence_t = 'number'
                  AND f.sequence_s::numeric >= 0 AND f.sequence_s::numeric < 9223372036854775808
                  AND f.sequence_s::numeric = trunc(f.sequence_s::numeric))
             THEN 'bad_sequence' END,
        CASE WHEN COALESCE(f.quality_t, 'null') <> 'null'
                  AND NOT (f.quality_t = 'string' AND f.quality_s ~ %(quality_re)s)
             THEN 'bad_quality' END, """
    + ", ".join(_number_check(name) for name in NUMERIC_BOUNDS)
    + """,
        CASE WHEN f.device_id IS NULL THEN 'unknown_device' WHEN NOT f.enabled THEN 'device_disabled' END
    ) AS code
    FROM g f
),
ok AS (
    SELECT c.idx, c.device_id, c.ts, left(c.observed_at_s, 40) AS raw_time, """
    + ", ".join(f"{_number_value(name)} AS {name}" for name in NUMERIC_BOUNDS)
    + """,
           (c.door_open_s)::boolean AS door_open, COALESCE(c.quality_s, 'N') AS quality,
           (c.sequence_s)::numeric::bigint AS sequence,
           row_number() OVER (PARTITION BY c.device_id, c.ts ORDER BY c.idx) AS rn
    FROM c WHERE c.code IS NULL
),
ins AS (
    INSERT INTO telemetry_reading ("""
    + _READING_COLUMNS
    + """)
    SELECT device_id, ts, raw_time, %(now)s, %(transport)s, fill_pct, net_weight_kg, temperature_c,
           door_open, battery_pct, quality, sequence
    FROM ok WHERE rn = 1 ORDER BY device_id, ts
    ON CONFLICT DO NOTHING
    RETURNING device_id, observed_at
),
st AS (
    SELECT ok.*, (ok.rn = 1 AND ins.device_id IS NOT NULL) AS accepted
    FROM ok LEFT JOIN ins ON ins.device_id = ok.device_id AND ins.observed_at = ok.ts
),
o AS (
    SELECT c.idx, c.device_id, c.code, 'rejected' AS status,
           c.device_id IS NOT NULL AND c.pre IS NULL AND c.code <> 'unknown_device' AS counted
    FROM c WHERE c.code IS NOT NULL
    UNION ALL
    SELECT st.idx, st.device_id, NULL, CASE WHEN st.accepted THEN 'accepted' ELSE 'duplicate' END, true
    FROM st
    UNION ALL
    SELECT -1 - x.n, x.device_id, x.code, 'rejected', true
    FROM unnest(%(extra_devices)s::uuid[], %(extra_codes)s::text[]) WITH ORDINALITY AS x(device_id, code, n)
),
counts AS (
    SELECT o.device_id,
           count(*) FILTER (WHERE o.status = 'accepted') AS accepted,
           count(*) FILTER (WHERE o.status = 'duplicate') AS duplicate,
           count(*) FILTER (WHERE o.status = 'rejected') AS rejected,
           (array_agg(o.code ORDER BY o.code = 'device_disabled' DESC, o.idx DESC)
               FILTER (WHERE o.status = 'rejected'))[1] AS last_code
    FROM o WHERE o.counted GROUP BY o.device_id
),
newest AS (
    SELECT DISTINCT ON (st.device_id) st.* FROM st WHERE st.accepted ORDER BY st.device_id, st.ts DESC
),
door_since AS (
    SELECT st.device_id, min(st.ts) AS since
    FROM st JOIN (
        SELECT device_id, max(ts) FILTER (WHERE door_open = false) AS closed_at
        FROM st WHERE accepted GROUP BY device_id
    ) d ON d.device_id = st.device_id
    WHERE st.accepted AND st.door_open AND st.ts > COALESCE(d.closed_at, '-infinity')
    GROUP BY st.device_id
),
s AS (
    SELECT k.device_id, n.ts AS observed_at,
           CASE WHEN n.device_id IS NOT NULL THEN %(now)s END AS received_at,
           CASE WHEN n.device_id IS NOT NULL THEN %(transport)s ELSE '' END AS transport,
           n.fill_pct, n.net_weight_kg, n.temperature_c, n.door_open,
           CASE WHEN n.door_open THEN ds.since END AS door_opened_at, n.battery_pct,
           COALESCE(n.quality, 'N') AS quality, k.accepted, k.duplicate, k.rejected,
           CASE WHEN k.rejected > 0 THEN %(now)s END AS last_rejected_at,
           COALESCE(left((%(messages)s::jsonb) ->> k.last_code, 200), '') AS last_rejected_reason
    FROM counts k LEFT JOIN newest n ON n.device_id = k.device_id
    LEFT JOIN door_since ds ON ds.device_id = k.device_id
),
locked AS (
    SELECT t.device_id FROM telemetry_binstate t WHERE t.device_id IN (SELECT device_id FROM s)
    ORDER BY t.device_id FOR UPDATE
),
upd AS (
    UPDATE telemetry_binstate SET """
    + STATE_ASSIGNMENTS.format(n="s", o="telemetry_binstate").replace("{", "{{").replace("}", "}}")
    + """
    FROM s JOIN locked l ON l.device_id = s.device_id
    WHERE telemetry_binstate.device_id = s.device_id
    RETURNING telemetry_binstate.device_id, telemetry_binstate.observed_at, telemetry_binstate.fill_pct,
              telemetry_binstate.temperature_c, s.observed_at AS staged_at
),
added AS (
    INSERT INTO telemetry_binstate ("""
    + STATE_COLUMNS
    + ") SELECT "
    + STATE_COLUMNS
    + """ FROM s WHERE NOT EXISTS (SELECT 1 FROM telemetry_binstate t WHERE t.device_id = s.device_id)
    ORDER BY device_id
    ON CONFLICT (device_id) DO UPDATE SET """
    + STATE_ASSIGNMENTS.format(n="excluded", o="telemetry_binstate").replace("{", "{{").replace("}", "}}")
    + """
    RETURNING device_id, observed_at, fill_pct, temperature_c
),
moved AS (
    SELECT u.device_id, u.observed_at, u.fill_pct, u.temperature_c FROM upd u WHERE u.observed_at = u.staged_at
    UNION ALL
    SELECT a.device_id, a.observed_at, a.fill_pct, a.temperature_c
    FROM added a JOIN s ON s.device_id = a.device_id AND s.observed_at = a.observed_at
)
SELECT 'd', m.device_id, m.observed_at, m.fill_pct, m.temperature_c, b.threshold_pct, n.idx, NULL, NULL
FROM moved m JOIN devices_bin b ON b.id = m.device_id JOIN newest n ON n.device_id = m.device_id
WHERE m.fill_pct >= b.threshold_pct OR m.fill_pct <= %(emptied)s OR m.temperature_c > %(hot)s
   OR (m.temperature_c < %(cool)s AND EXISTS (SELECT 1 FROM telemetry_alert a
       WHERE a.device_id = m.device_id AND a.kind = 'temperature' AND a.cleared_at IS NULL))
UNION ALL
SELECT 'i', NULL, NULL, NULL, NULL, NULL, o.idx, o.status, o.code FROM o
WHERE o.status <> 'accepted' AND o.idx >= 0
"""
)

_STATEMENTS = {
    "serial": _SQL.format(devices=_DEVICE_BY_SERIAL),
    "device": _SQL.format(devices=_DEVICE_FIXED),
    "per_item": _SQL.format(devices=_DEVICE_PER_ITEM),
}
_MESSAGES_JSON = orjson.dumps({key: message for key, (_code, _field, message) in MESSAGES.items()}).decode()


@dataclass(frozen=True, slots=True)
class Extra:
    """A reading the transport refused before the batch (e.g. an MQTT payload that is not JSON),
    counted against its bin under a message key of ``validation.MESSAGES``."""

    device_id: uuid.UUID
    key: str


def ingest_json(
    readings: list[Any],
    *,
    transport: str,
    now: dt.datetime,
    collector_id: Any = None,
    device_id: uuid.UUID | None = None,
    device_ids: list[uuid.UUID | None] | None = None,
    extra: list[Extra] = (),  # type: ignore[assignment]
) -> list[IngestOutcome] | None:
    """Store ``readings`` (parsed JSON items) in one statement; one outcome per item.

    The items go to PostgreSQL re-serialised by orjson, so that numbers reach both paths as the same
    doubles: what Python would accept, PostgreSQL accepts, and alike for the rest.

    The bin of each item is named by its ``serial`` among ``collector_id``'s bins, or is
    ``device_id`` for all, or ``device_ids[i]`` per item. Returns None, having stored nothing, when
    PostgreSQL could not parse some value: the caller then takes the batch through the Python path.
    Must run inside the caller's transaction, which commits the batch.
    """
    if device_ids is not None:
        mode = "per_item"
    elif device_id is not None:
        mode = "device"
    else:
        mode = "serial"
    try:
        text = orjson.dumps(readings).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: not from a JSON body, but possible
        return None
    limit = settings.GREENISLE["TEMPERATURE_LIMIT_C"]
    params = {
        "readings": text,
        "count": len(readings),
        "collector": collector_id,
        "device": device_id,
        "devices": device_ids,
        "now": now,
        "skew": MAX_CLOCK_SKEW,
        "retention": raw_retention(),
        "transport": transport,
        "time_re": TIME_RE,
        "number_re": NUMBER_STRING_RE,
        "quality_re": QUALITY_RE,
        "messages": _MESSAGES_JSON,
        "extra_devices": [e.device_id for e in extra],
        "extra_codes": [e.key for e in extra],
        "emptied": emptied_level(),
        "hot": limit,
        "cool": limit - settings.GREENISLE["TEMPERATURE_CLEAR_MARGIN_C"],
    }
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_STATEMENTS[mode], params)
            rows = cursor.fetchall()
    except DataError:
        return None
    outcomes: list[IngestOutcome] = [ACCEPTED] * len(readings)
    decisions: list[Decision] = []
    for kind, device, observed_at, fill, temperature, threshold, idx, status, key in rows:
        if kind == "i":
            if status == "duplicate":
                outcomes[idx] = DUPLICATE
            else:
                code, field_name, message = MESSAGES[key]
                outcomes[idx] = IngestOutcome(status="rejected", reason=message, field=field_name, code=code)
        else:
            decisions.append(
                Decision(
                    device_id=device,
                    observed_at=observed_at,
                    fill_pct=None if fill is None else Decimal(fill),
                    temperature_c=None if temperature is None else Decimal(temperature),
                    threshold_pct=Decimal(threshold),
                    item=idx,
                )
            )
    for device, request_id in apply_decisions(decisions).items():
        for decision in decisions:
            if decision.device_id == device:
                outcomes[decision.item] = IngestOutcome(status="accepted", request_opened=request_id)
    return outcomes
