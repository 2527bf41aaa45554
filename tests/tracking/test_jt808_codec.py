"""The JT/T 808 codec (greenisle.tracking.jt808.codec): the 29 protocol vectors, the standard's worked
examples, tolerances and quirks, encoders and replies, round trips, fuzzing and the stream deframer.

Pure tests: no database, no Django fixtures. The vectors are a copy of
``shared/data/protocol-vectors/jt808.json`` kept in ``tests/tracking/vectors/`` so a fresh clone can run.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenisle.tracking.jt808 import codec
from greenisle.tracking.jt808.codec import (
    MAX_FRAME,
    Authenticate,
    DecodeError,
    Deframer,
    Header,
    Heartbeat,
    Location,
    LocationBatch,
    Logout,
    Message,
    PlatformReply,
    QueryTime,
    Register,
    RegisterReply,
    ServerTime,
    TerminalReply,
    Unknown,
    alarm_names,
    check_code,
    decode,
    encode,
    encode_authenticate_body,
    encode_location_body,
    encode_register_body,
    escape,
    normalise_phone,
    platform_reply,
    register_reply,
    server_time_reply,
    unescape,
)

HERE = Path(__file__).resolve()
VECTOR_FILE = HERE.parent / "vectors" / "jt808.json"
SHARED_VECTOR_FILE = HERE.parents[3] / "shared/data/protocol-vectors/jt808.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))["vectors"]
UTC = dt.UTC
BEIJING = dt.timezone(dt.timedelta(hours=8))

PROPERTY = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
ERROR_CODES = {
    "no_frame",
    "bad_frame",
    "too_long",
    "bad_escape",
    "truncated",
    "bad_check",
    "bad_length",
    "bad_bcd",
    "bad_body",
    "bad_input",
}


def vector(vector_id: str) -> dict[str, Any]:
    return next(item for item in VECTORS if item["id"] == vector_id)


def raw_of(vector_id: str) -> bytes:
    return bytes.fromhex(vector(vector_id)["raw_hex"])


def decoded(frame: bytes, **kwargs: Any) -> Message:
    result = decode(frame, **kwargs)
    assert isinstance(result, Message), result
    return result


def failed(frame: bytes, **kwargs: Any) -> DecodeError:
    result = decode(frame, **kwargs)
    assert isinstance(result, DecodeError), result
    return result


def options_for(case: dict[str, Any]) -> dict[str, bool]:
    """The vectors that need a tolerance: a wrong check code (skip_check) and a dangling 0x7D (lenient)."""
    return {
        "skip_check": not case["expected"]["checksum_ok"],
        "lenient": case["id"] == "jt-go-unescaped-7d-checksum",
    }


# ---------------------------------------------------------------------------------------------------------
# The vectors


def test_vector_copy_matches_shared_file() -> None:
    assert len(VECTORS) == 29
    if not SHARED_VECTOR_FILE.exists():
        pytest.skip("shared vector file not present (fresh clone)")
    assert SHARED_VECTOR_FILE.read_bytes() == VECTOR_FILE.read_bytes()


def assert_header(header: Header, expected: dict[str, Any]) -> None:
    expected = dict(expected)
    assert header.msg_id == int(expected.pop("msg_id"), 16)
    assert header.body_attr == int(expected.pop("body_attr"), 16)
    assert header.body_len == expected.pop("body_len")
    assert header.encryption == expected.pop("encryption")
    assert header.subpackage is expected.pop("subpackage")
    assert header.version_flag is expected.pop("version_flag_bit14")
    assert header.phone == expected.pop("phone_bcd")
    assert header.serial == expected.pop("msg_sn")
    assert header.protocol_version == expected.pop("protocol_version", None)
    assert header.packet_total == expected.pop("pkg_total", None)
    assert header.packet_seq == expected.pop("pkg_seq", None)
    assert expected == {}, f"unchecked header fields {expected}"


# Typed location fields for the attachments the vectors decode: vector key → Location attribute.
ATTACHMENT_FIELDS = {
    "mileage_km": "mileage_km",
    "fuel_l": "fuel_l",
    "dvr_speed_kmh": "recorder_speed_kmh",
    "alarm_event_id": "alarm_event_id",
    "cabin_temp_c_signmag": "cabin_temp_c",
    "ext_signal": "ext_signals",
    "io_status": "io_status",
    "ad0": "ad0",
    "ad1": "ad1",
    "rssi": "signal_strength",
    "gnss_sats": "satellites",
}


def assert_location(location: Location, expected: dict[str, Any], edition: int) -> None:
    expected = dict(expected)
    assert location.alarm == expected.pop("alarm_flag")
    assert list(alarm_names(location.alarm, edition=edition)) == expected.pop("alarm_bits")
    assert location.status == expected.pop("status_flag")
    for name, value in expected.pop("status").items():
        assert getattr(location, name) == value, name
    assert location.lat_raw == expected.pop("lat_raw")
    assert location.lng_raw == expected.pop("lng_raw")
    assert location.latitude == expected.pop("lat_deg")  # no vector is south or west
    assert location.longitude == expected.pop("lng_deg")
    assert location.altitude == expected.pop("altitude_m")
    assert location.speed_raw == expected.pop("speed_raw")
    assert location.speed_kmh == expected.pop("speed_kmh")
    assert location.direction == expected.pop("direction_deg")
    time_gmt8 = expected.pop("time_gmt8")
    assert location.time is not None and location.time.tzinfo is UTC
    assert location.time.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") == time_gmt8
    assert location.time_raw == time_gmt8[2:].replace("-", "").replace(" ", "").replace(":", "")
    attachments = expected.pop("attachments")
    assert [
        (f"0x{item.id:02X}", len(item.value), item.value.hex().upper()) for item in location.attachments
    ] == [(item["id"], item["len"], item["hex"]) for item in attachments]
    assert location.trailing == b""
    seen: set[str] = set()
    for item in attachments:
        for key, value in item.items():
            if key in ("id", "len", "hex"):
                continue
            if key in seen:  # a duplicate id: the first occurrence is the typed value
                continue
            seen.add(key)
            assert getattr(location, ATTACHMENT_FIELDS[key]) == value, key
    for key, attribute in ATTACHMENT_FIELDS.items():
        if key not in seen:
            assert getattr(location, attribute) is None, attribute
    assert expected == {}, f"unchecked location fields {expected}"


def assert_body(message: Message, expected: dict[str, Any]) -> None:
    body = message.body
    expected = dict(expected)
    if isinstance(body, TerminalReply | PlatformReply):
        assert body.reply_serial == expected.pop("reply_sn")
        assert body.reply_id == int(expected.pop("reply_msg_id"), 16)
        assert body.result == expected.pop("result")
    elif isinstance(body, Register):
        assert expected.pop("layout").startswith(str(body.layout))
        assert body.province == expected.pop("province_id")
        assert body.city == expected.pop("city_id")
        # The independent decoder kept NUL padding; ours strips it on both sides (protocols.md 2.6).
        assert body.maker == expected.pop("maker_id").strip("\x00")
        assert body.model == expected.pop("terminal_model").strip("\x00")
        assert body.terminal_id == expected.pop("terminal_id").strip("\x00")
        assert body.plate_color == expected.pop("plate_color")
        assert body.plate == expected.pop("plate_or_vin").strip("\x00")
    elif isinstance(body, Authenticate):
        assert body.auth_code == expected.pop("auth_code")
        if "auth_code_len" in expected:
            assert len(body.auth_code.encode("gbk")) == expected.pop("auth_code_len")
        assert body.imei == expected.pop("imei", None)
        assert body.software_version == expected.pop("software_version", None)
    elif isinstance(body, RegisterReply):
        assert body.reply_serial == expected.pop("reply_sn")
        assert body.result == expected.pop("result")
        assert body.auth_code == expected.pop("auth_code", None)
    elif isinstance(body, ServerTime):
        assert body.time is not None and body.time.tzinfo is UTC
        assert body.time.strftime("%Y-%m-%d %H:%M:%S") == expected.pop("server_time_utc")
    elif isinstance(body, Location):
        assert_location(body, expected, 2019 if message.header.is_2019 else 2013)
        expected = {}
    else:
        assert isinstance(body, Heartbeat | Logout), body
    assert expected == {}, f"unchecked body fields {expected}"


@pytest.mark.parametrize("case", VECTORS, ids=[item["id"] for item in VECTORS])
def test_vector(case: dict[str, Any]) -> None:
    raw = bytes.fromhex(case["raw_hex"])
    expected = case["expected"]
    message = decoded(raw, **options_for(case))
    assert message.raw == raw
    assert message.check_ok is expected["checksum_ok"]
    assert_header(message.header, expected["header"])
    assert expected["body_len_ok"] is True

    unescaped = unescape(raw[1:-1], lenient=options_for(case)["lenient"])
    assert isinstance(unescaped, bytes)
    assert unescaped.hex().upper() == expected["unescaped_hex"]
    assert unescaped[-1] == int(expected["checksum"], 16)
    assert check_code(unescaped[:-1]) == int(expected["checksum_calc"], 16)

    if "body_hex" in expected:
        assert message.body == Unknown(bytes.fromhex(expected["body_hex"]))
    else:
        assert_body(message, expected["body"])

    # The same frame without its flags decodes the same.
    assert decode(raw[1:-1], **options_for(case)) == Message(
        message.header, message.body, raw[1:-1], message.check_ok
    )


def test_vectors_agree_with_the_source_assertions() -> None:
    for case in VECTORS:
        message = decoded(bytes.fromhex(case["raw_hex"]), **options_for(case))
        source = case["source_asserted"]
        if "MsgNum" in source:
            assert message.header.serial == source["MsgNum"]
        if "TerminalPhoneNo" in source:
            assert message.header.identity == source["TerminalPhoneNo"]
        if "clientId" in source:
            assert message.header.phone == source["clientId"]
        if "ProtocolVersion" in source:
            assert message.header.protocol_version == source["ProtocolVersion"]


def test_strict_decoding_rejects_the_two_quirky_vectors() -> None:
    dangling = failed(raw_of("jt-go-unescaped-7d-checksum"))
    assert dangling.code == "bad_escape"
    assert " / " in dangling.message

    bad = failed(raw_of("jt-smallchi-0200-bad-checksum-device"))
    assert bad.code == "bad_check"
    assert "0x6c" in bad.message and "0x1e" in bad.message
    assert bad.header is not None and bad.header.serial == 2 and bad.header.msg_id == 0x0200
    # The platform may answer result 2 (bad message), echoing SN and ID from the error's header.
    answer = decoded(platform_reply(bad.header, 2, serial=7))
    assert answer.body == PlatformReply(reply_serial=2, reply_id=0x0200, result=2)
    assert answer.header.phone == "011111111110"


# ---------------------------------------------------------------------------------------------------------
# The standard's worked examples (protocols.md 2.1)


def test_escape_example() -> None:
    body = bytes.fromhex("307E087D55")
    assert b"\x7e" + escape(body) + b"\x7e" == bytes.fromhex("7E307D02087D01557E")
    assert unescape(escape(body)) == body


def test_check_code_example() -> None:
    assert check_code(bytes.fromhex("00020000012345678900000A")) == 0x81
    assert encode(0x0002, b"", phone="012345678900", serial=10) == bytes.fromhex(
        "7E00020000012345678900000A817E"
    )


@given(st.binary(max_size=200))
def test_escape_round_trip(data: bytes) -> None:
    escaped = escape(data)
    assert 0x7E not in escaped
    assert unescape(escaped) == data


def test_unescape_errors() -> None:
    for content in (b"\x01\x7d", b"\x7d\x03", b"\x7d\x7d\x01", b"\x7d"):
        result = unescape(content)
        assert isinstance(result, DecodeError) and result.code == "bad_escape"
    assert unescape(b"\x01\x7d", lenient=True) == b"\x01\x7d"
    assert isinstance(unescape(b"\x7d\x00\x01", lenient=True), DecodeError)  # only at the very end


# ---------------------------------------------------------------------------------------------------------
# Header and version detection


def test_bit14_quirk_falls_back_to_the_2013_layout() -> None:
    message = decoded(raw_of("jt-smallchi-0102-bit14-but-2013"))
    assert message.header.version_flag is True
    assert message.header.protocol_version is None and message.header.is_2019 is False
    assert message.header.size == 12
    # Replies use the layout the terminal actually spoke.
    reply = decoded(platform_reply(message, serial=1))
    assert reply.header.is_2019 is False and reply.header.phone == "010030000681"


def test_bit14_with_a_consistent_2019_layout_is_2019() -> None:
    frame = encode(0x0102, b"J10030000681", phone="13800138000", serial=5, version=1)
    message = decoded(frame)
    assert message.header.is_2019 and message.header.phone == "00000000013800138000"
    assert message.body == Authenticate("J10030000681")


def test_body_length_fitting_neither_layout_is_bad_length() -> None:
    payload = bytes.fromhex("0102400D01003000068109024A31303033303030303638")
    frame = b"\x7e" + escape(payload + bytes((check_code(payload),))) + b"\x7e"
    error = failed(frame)
    assert error.code == "bad_length"
    assert error.header is not None and error.header.msg_id == 0x0102
    plain = bytes.fromhex("0002000501234567890000010000")
    error = failed(b"\x7e" + escape(plain + bytes((check_code(plain),))) + b"\x7e")
    assert error.code == "bad_length" and "declared 5, got 2" in error.message


def test_subpackage_header_fields_round_trip_in_both_layouts() -> None:
    for version in (None, 1):
        message = decoded(encode(0x0801, b"\x01\x02", phone="1", serial=3, version=version, packet=(26, 2)))
        assert message.header.subpackage and message.header.packet_total == 26
        assert message.header.packet_seq == 2 and message.body == Unknown(b"\x01\x02")
        assert message.header.size == (21 if version else 16)


def test_phone_identity_is_the_same_across_editions() -> None:
    old = decoded(encode(0x0002, b"", phone="13800138000", serial=1))
    new = decoded(encode(0x0002, b"", phone="13800138000", serial=1, version=1))
    assert old.header.phone == "013800138000" and new.header.phone == "00000000013800138000"
    assert old.header.identity == new.header.identity == "13800138000"
    assert normalise_phone("000000000000") == "0"


def test_non_bcd_phone_is_bad_bcd() -> None:
    payload = bytes.fromhex("000200000123456789AB000A")
    error = failed(b"\x7e" + escape(payload + bytes((check_code(payload),))) + b"\x7e")
    assert error.code == "bad_bcd"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"", "no_frame"),
        (b"\x7e", "no_frame"),
        (b"\x7e\x7e", "no_frame"),
        (b"\x7e\x00\x02\x7e\x00\x7e", "bad_frame"),
        (bytes.fromhex("7E0002000001234567897E"), "truncated"),
        (bytes.fromhex("7E00020000012345678900000A7D037E"), "bad_escape"),
        (bytes.fromhex("7E00020000012345678900000A827E"), "bad_check"),
        (b"\x7e" + b"\x01" * (MAX_FRAME + 1) + b"\x7e", "too_long"),
    ],
)
def test_frame_errors(frame: bytes, code: str) -> None:
    error = failed(frame)
    assert error.code == code
    assert " / " in error.message
    assert error.raw == frame[: codec.RAW_KEEP]


def test_decode_accepts_bytearray_and_rejects_non_bytes() -> None:
    raw = raw_of("jt-smallchi-0002")
    assert decoded(bytearray(raw)).header.serial == 10  # type: ignore[arg-type]
    assert decoded(memoryview(raw)).header.serial == 10  # type: ignore[arg-type]
    assert failed(raw.hex()).code == "bad_input"  # type: ignore[arg-type]


def test_unknown_message_id_keeps_the_body_raw() -> None:
    message = decoded(encode(0x0F0F, b"\x01\x7e\x7d", phone="1", serial=1))
    assert message.body == Unknown(b"\x01\x7e\x7d")
    assert decoded(encode(0x0004, b"", phone="1", serial=1, version=1)).body == QueryTime()


@pytest.mark.parametrize(
    ("msg_id", "body"),
    [(0x0001, b"\x00\x01"), (0x8001, b""), (0x8100, b"\x00"), (0x8004, b"\x19\x12"), (0x0200, b"\x00" * 27)],
)
def test_short_bodies_are_bad_body(msg_id: int, body: bytes) -> None:
    error = failed(encode(msg_id, body, phone="1", serial=9))
    assert error.code == "bad_body"
    assert error.header is not None and error.header.serial == 9


# ---------------------------------------------------------------------------------------------------------
# Register and authenticate


def test_register_bodies_reproduce_the_vectors() -> None:
    for vector_id, layout, model, version in [
        ("jt-smallchi-0100-2013", 2013, "smallchi123", None),
        ("jt-smallchi-0100-2011", 2011, "tk12345", None),
        ("jt-smallchi-0100-2019", 2019, "smallchi123", 1),
    ]:
        body = encode_register_body(
            province=40,
            city=50,
            maker="1234",
            model=model,
            terminal_id="CHI123",
            plate_color=1,
            plate="粤A12345",
            layout=layout,
        )
        assert encode(0x0100, body, phone="123456789", serial=10, version=version) == raw_of(vector_id)


def test_register_nul_padding_on_either_side_is_stripped() -> None:
    body = (
        struct.pack(">HH", 31, 115)
        + b"\x00\x00HW\x00"
        + b"\x00" * 10
        + "危废车".encode("gbk")
        + b"\x00" * 4
        + b"\x00T01\x00\x00\x00"
        + b"\x02"
        + b"\x00\x00"
        + "苏F12345".encode("gbk")
        + b"\x00"
    )
    register = decoded(encode(0x0100, body, phone="13800138000", serial=0)).body
    assert register == Register(31, 115, "HW", "危废车", "T01", 2, "苏F12345", 2013)
    capture = decoded(raw_of("jt-quecpython-0100-2019-capture")).body
    assert isinstance(capture, Register)
    assert (capture.maker, capture.model, capture.terminal_id, capture.plate) == (
        "HWCAB",
        "WASTE-TRUCK-T1",
        "T0001",
        "沪A12345",
    )


def test_register_gbk_errors_are_replaced_not_fatal() -> None:
    body = encode_register_body(
        province=1, city=2, maker="M", model="X", terminal_id="T", plate_color=1, plate="A"
    )
    register = decoded(encode(0x0100, body[:-1] + b"\xff", phone="1", serial=1)).body
    assert isinstance(register, Register) and register.plate == "\ufffd"


def test_register_2011_with_a_long_vin_is_not_mistaken_for_2013() -> None:
    body = encode_register_body(
        province=1,
        city=2,
        maker="M",
        model="X",
        terminal_id="T",
        plate_color=0,
        plate="LSVAM4187C2184847",
        layout=2011,
    )
    register = decoded(encode(0x0100, body, phone="1", serial=1)).body
    assert (
        isinstance(register, Register) and register.layout == 2011 and register.plate == "LSVAM4187C2184847"
    )


def test_register_too_short_for_any_layout() -> None:
    assert failed(encode(0x0100, b"\x00" * 24, phone="1", serial=1)).code == "bad_body"


def test_authenticate_bodies_reproduce_the_vectors() -> None:
    body = encode_authenticate_body(
        "pmYGzGukO8K4Z5lpIOTg8dqb3eprYaHBbXSPLtdbyG8=",
        imei="123456789012345",
        software_version="www.jtt808.cn",
    )
    assert encode(0x0102, body, phone="12345678901234567890", serial=65535, version=1) == raw_of(
        "jt-yzh-0102-2019"
    )
    assert encode(0x0102, encode_authenticate_body("456121111"), phone="12345678900", serial=12345) == raw_of(
        "jt-smallchi-0102-2013"
    )


def test_authenticate_2019_offsets_are_1_plus_n_and_16_plus_n() -> None:
    body = b"\x03abc" + b"860000000000001" + b"v2".ljust(20, b"\x00")
    assert body.index(b"8600") == 1 + 3 and body.index(b"v2") == 16 + 3
    message = decoded(encode(0x0102, body, phone="1", serial=1, version=1))
    assert message.body == Authenticate("abc", "860000000000001", "v2")
    # A 2013 header with the 2019 body (non-printable first byte) is read as 2019 too.
    assert decoded(encode(0x0102, body, phone="1", serial=1)).body == Authenticate(
        "abc", "860000000000001", "v2"
    )
    # A 2019 header with a bare code (length byte does not fit) falls back to the 2013 form.
    assert decoded(encode(0x0102, b"CODE", phone="1", serial=1, version=1)).body == Authenticate("CODE")


# ---------------------------------------------------------------------------------------------------------
# Replies


def test_general_replies_reproduce_the_vectors() -> None:
    terminal = Header(msg_id=0x0200, body_attr=0, phone="012345678900", serial=100)
    assert platform_reply(terminal, 0, serial=10) == raw_of("jt-smallchi-8001")
    terminal_2019 = Header(0x01C8, 0x4000, "12345678901234567890", 123, protocol_version=1)
    assert platform_reply(terminal_2019, 3, serial=65535) == raw_of("jt-yzh-8001-2019")
    answer = encode(0x0001, struct.pack(">HHB", 1000, 0x0002, 0), phone="12345678900", serial=1203)
    assert answer == raw_of("jt-smallchi-0001")


def test_platform_reply_echoes_sn_and_id_in_the_terminal_header_version() -> None:
    for vector_id in ("jt-yzh-0200-2019-attachments", "jt-quecpython-0200-2013-capture"):
        message = decoded(raw_of(vector_id))
        reply = decoded(platform_reply(message, serial=42))
        assert reply.header.msg_id == 0x8001 and reply.header.serial == 42
        assert reply.header.phone == message.header.phone
        assert reply.header.protocol_version == message.header.protocol_version
        assert reply.body == PlatformReply(message.header.serial, 0x0200, 0)


def test_register_reply() -> None:
    register = Header(0x0100, 0, "012345678900", 100)
    assert register_reply(register, 0, "123456", serial=10) == raw_of("jt-smallchi-8100-ok")
    assert register_reply(register, 4, serial=10) == raw_of("jt-smallchi-8100-fail")
    assert decoded(register_reply(register, 3, "ignored", serial=10)).body == RegisterReply(100, 3, None)
    with pytest.raises(ValueError, match="auth code"):
        register_reply(register, 0, serial=1)
    message = decoded(raw_of("jt-quecpython-0100-2019-capture"))
    reply = decoded(register_reply(message, 0, "鉴权码AUTH", serial=1))
    assert reply.header.is_2019 and reply.body == RegisterReply(0, 0, "鉴权码AUTH")


def test_server_time_reply_is_utc() -> None:
    query = Header(0x0004, 0x4000, "00000000123456789012", 0, protocol_version=1)
    now = dt.datetime(2019, 12, 2, 18, 10, 10, tzinfo=BEIJING)
    assert server_time_reply(query, now, serial=1) == raw_of("jt-smallchi-8004-2019")
    with pytest.raises(ValueError, match="aware"):
        server_time_reply(query, dt.datetime(2019, 12, 2), serial=1)  # noqa: DTZ001


def test_encoder_rejects_what_cannot_be_framed() -> None:
    with pytest.raises(ValueError, match="longer than"):
        encode(0x0200, b"\x00" * 1024, phone="1", serial=1)
    with pytest.raises(ValueError, match="phone"):
        encode(0x0002, b"", phone="1234567890123", serial=1)
    with pytest.raises(ValueError, match="phone"):
        encode(0x0002, b"", phone="12a", serial=1)
    with pytest.raises(ValueError, match="serial"):
        encode(0x0002, b"", phone="1", serial=65536)
    with pytest.raises(ValueError, match="version"):
        encode(0x0002, b"", phone="1", serial=1, version=256)
    with pytest.raises(ValueError, match="maker"):
        encode_register_body(
            province=1, city=1, maker="123456", model="", terminal_id="", plate_color=1, plate=""
        )


# ---------------------------------------------------------------------------------------------------------
# Location


def test_location_body_reproduces_the_vectors() -> None:
    body = encode_location_body(
        alarm=1,
        status=2,
        latitude=12.222222,
        longitude=132.444444,
        altitude=40,
        speed_kmh=6.0,
        time=dt.datetime(2018, 7, 15, 10, 10, 10, tzinfo=BEIJING),
        mileage_km=10.0,
        fuel_l=5.5,
    )
    assert encode(0x0200, body, phone="112233445566", serial=8888) == raw_of("jt-smallchi-0200-2013")
    body = encode_location_body(
        status=0x80003,
        latitude=31.230416,
        longitude=121.473701,
        altitude=12,
        speed_kmh=36.5,
        direction=90,
        time=dt.datetime(2026, 11, 22, 5, 48, 48, tzinfo=UTC),
        mileage_km=100.0,
        fuel_l=32.5,
        recorder_speed_kmh=0,
    )
    assert encode(0x0200, body, phone="13800138000", serial=3) == raw_of("jt-quecpython-0200-2013-capture")


def location_frame(body: bytes) -> Location:
    location = decoded(encode(0x0200, body, phone="1", serial=1)).body
    assert isinstance(location, Location)
    return location


def test_location_south_west_and_cabin_temperature() -> None:
    body = encode_location_body(
        latitude=-33.8688,
        longitude=-70.6693,
        time=dt.datetime(2025, 1, 1, tzinfo=UTC),
        cabin_temp_c=-5,
        signal_strength=31,
        satellites=12,
    )
    location = location_frame(body)
    assert location.south_lat and location.west_lng
    assert (location.latitude, location.longitude) == (-33.8688, -70.6693)
    assert (location.lat_raw, location.lng_raw) == (33868800, 70669300)
    assert location.cabin_temp_c == -5 and location.attachment(0x06) == b"\x80\x05"
    assert (location.signal_strength, location.satellites) == (31, 12)
    assert location.time == dt.datetime(2025, 1, 1, tzinfo=UTC)
    assert location.time_raw == "250101080000"


@pytest.mark.parametrize(
    ("bcd", "raw"),
    [
        ("000000000000", "000000000000"),
        ("251301000000", "251301000000"),
        ("2501010000FF", "2501010000FF"),
        ("250230120000", "250230120000"),
    ],
)
def test_invalid_location_time_is_kept_raw(bcd: str, raw: str) -> None:
    good = encode_location_body(latitude=1, longitude=1, time=dt.datetime(2025, 1, 1, tzinfo=UTC))
    location = location_frame(good[:22] + bytes.fromhex(bcd))
    assert location.time is None and location.time_raw == raw


def test_unknown_duplicate_and_truncated_attachments_never_fail_the_report() -> None:
    base = encode_location_body(latitude=1, longitude=2, time=dt.datetime(2025, 1, 1, tzinfo=UTC))
    tlvs = (
        b"\x01\x04\x00\x00\x00\x0a"  # mileage 1.0 km
        + b"\x01\x04\x00\x00\x00\x14"  # a duplicate: the first wins
        + b"\x02\x03\x00\x00\x01"  # fuel with a non-standard length: kept raw only
        + b"\x00\x00"  # zero id, empty
        + b"\xee\x02\xab\xcd"  # vendor
        + b"\x31\x05\x01"  # truncated: length 5, one byte left
    )
    location = location_frame(base + tlvs)
    assert [(item.id, item.value) for item in location.attachments] == [
        (0x01, b"\x00\x00\x00\x0a"),
        (0x01, b"\x00\x00\x00\x14"),
        (0x02, b"\x00\x00\x01"),
        (0x00, b""),
        (0xEE, b"\xab\xcd"),
    ]
    assert location.mileage_km == 1.0 and location.fuel_l is None and location.satellites is None
    assert location.trailing == b"\x31\x05\x01"
    assert location_frame(base + b"\x30").trailing == b"\x30"


def test_alarm_names_differ_by_edition() -> None:
    assert alarm_names(1 << 3 | 1 << 31) == ("danger_warning", "illegal_door_open")
    assert alarm_names(1 << 3 | 1 << 31, edition=2019) == ("dangerous_driving", "bit31")
    assert alarm_names(1 << 16, edition=2019) == ("tyre_pressure_warning",)
    assert alarm_names(0) == ()


def test_location_batch() -> None:
    first = encode_location_body(latitude=31.2, longitude=121.4, time=dt.datetime(2025, 1, 1, tzinfo=UTC))
    second = encode_location_body(
        latitude=31.3, longitude=121.5, time=dt.datetime(2025, 1, 1, 0, 0, 30, tzinfo=UTC), mileage_km=12.3
    )
    body = (
        struct.pack(">HB", 2, 1)
        + struct.pack(">H", len(first))
        + first
        + struct.pack(">H", len(second))
        + second
    )
    batch = decoded(encode(0x0704, body, phone="13800138000", serial=4, version=1)).body
    assert isinstance(batch, LocationBatch)
    assert batch.kind == 1 and batch.declared_count == 2 and batch.errors == ()
    assert [item.latitude for item in batch.items] == [31.2, 31.3]
    assert batch.items[1].mileage_km == 12.3

    broken = struct.pack(">HB", 3, 0) + struct.pack(">H", len(first)) + first + b"\x00\x03abc" + b"\x00\x40xy"
    batch = decoded(encode(0x0704, broken, phone="1", serial=4)).body
    assert isinstance(batch, LocationBatch) and len(batch.items) == 1
    assert [error.code for error in batch.errors] == ["bad_body", "truncated"]
    assert failed(encode(0x0704, b"\x00", phone="1", serial=4)).code == "bad_body"


def test_encode_location_body_rejects_out_of_range_values() -> None:
    time = dt.datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        encode_location_body(latitude=1, longitude=1, time=dt.datetime(2025, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="2000"):
        encode_location_body(latitude=1, longitude=1, time=dt.datetime(2100, 1, 1, tzinfo=BEIJING))
    with pytest.raises(ValueError, match="speed"):
        encode_location_body(latitude=1, longitude=1, time=time, speed_kmh=-1)
    with pytest.raises(ValueError, match="latitude"):
        encode_location_body(latitude=5000, longitude=1, time=time)


# ---------------------------------------------------------------------------------------------------------
# Round trips

VERSIONS = st.one_of(st.none(), st.integers(0, 255))
PHONES = st.text(alphabet="0123456789", min_size=1, max_size=12)
TIMES = st.datetimes(
    min_value=dt.datetime(2000, 1, 1, 8, 0, 0), max_value=dt.datetime(2099, 12, 31, 23, 59, 59)
).map(lambda moment: moment.replace(microsecond=0, tzinfo=BEIJING))


@PROPERTY
@given(
    version=VERSIONS,
    phone=PHONES,
    serial=st.integers(0, 0xFFFF),
    alarm=st.integers(0, 0xFFFFFFFF),
    status=st.integers(0, 0xFFFFFFFF),
    lat_raw=st.integers(0, 0xFFFFFFFF),
    lng_raw=st.integers(0, 0xFFFFFFFF),
    altitude=st.integers(0, 0xFFFF),
    speed_raw=st.integers(0, 0xFFFF),
    direction=st.integers(0, 0xFFFF),
    time=TIMES,
    mileage=st.none() | st.integers(0, 0xFFFFFFFF),
    fuel=st.none() | st.integers(0, 0xFFFF),
    cabin=st.none() | st.integers(-0x7FFF, 0x7FFF),
    satellites=st.none() | st.integers(0, 255),
    extra=st.lists(st.tuples(st.integers(0x40, 0xFF), st.binary(max_size=20)), max_size=5),
)
def test_location_round_trip(
    version: int | None,
    phone: str,
    serial: int,
    alarm: int,
    status: int,
    lat_raw: int,
    lng_raw: int,
    altitude: int,
    speed_raw: int,
    direction: int,
    time: dt.datetime,
    mileage: int | None,
    fuel: int | None,
    cabin: int | None,
    satellites: int | None,
    extra: list[tuple[int, bytes]],
) -> None:
    south, west = bool(status & 4), bool(status & 8)
    body = encode_location_body(
        alarm=alarm,
        status=status,
        latitude=-lat_raw / 1e6 if south else lat_raw / 1e6,
        longitude=-lng_raw / 1e6 if west else lng_raw / 1e6,
        altitude=altitude,
        speed_kmh=speed_raw / 10,
        direction=direction,
        time=time,
        mileage_km=None if mileage is None else mileage / 10,
        fuel_l=None if fuel is None else fuel / 10,
        cabin_temp_c=cabin,
        satellites=satellites,
        attachments=extra,
    )
    message = decoded(encode(0x0200, body, phone=phone, serial=serial, version=version))
    assert message.header.protocol_version == version and message.header.serial == serial
    assert message.header.identity == normalise_phone(phone)
    location = message.body
    assert isinstance(location, Location)
    # A zero coordinate cannot carry the sign, so the status bit is only set for a non-zero one.
    expected_status = status & ~0x0C | (4 if south and lat_raw else 0) | (8 if west and lng_raw else 0)
    assert (location.alarm, location.status) == (alarm, expected_status)
    assert (location.lat_raw, location.lng_raw) == (lat_raw, lng_raw)
    assert abs(location.latitude) == lat_raw / 1e6 and abs(location.longitude) == lng_raw / 1e6
    assert (location.altitude, location.speed_raw, location.direction) == (altitude, speed_raw, direction)
    assert location.time == time
    assert location.mileage_km == (None if mileage is None else mileage / 10)
    assert location.fuel_l == (None if fuel is None else fuel / 10)
    assert location.cabin_temp_c == cabin and location.satellites == satellites
    pairs = [(item.id, item.value) for item in location.attachments]
    assert pairs[len(pairs) - len(extra) :] == extra  # typed attachments first, then the extras in order
    reply = decoded(platform_reply(message, serial=serial))
    assert reply.body == PlatformReply(serial, 0x0200, 0)
    assert reply.header.protocol_version == version


def gbk_text(width: int) -> st.SearchStrategy[str]:
    alphabet = st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.sampled_from("沪苏粤测危废车京")
    return st.text(alphabet=alphabet, max_size=width).filter(lambda text: len(text.encode("gbk")) <= width)


@st.composite
def registers(draw: st.DrawFn) -> Register:
    layout = draw(st.sampled_from([2011, 2013, 2019]))
    maker, model, terminal = codec._REGISTER_WIDTHS[layout]
    return Register(
        province=draw(st.integers(0, 0xFFFF)),
        city=draw(st.integers(0, 0xFFFF)),
        maker=draw(gbk_text(maker)),
        model=draw(gbk_text(model)),
        terminal_id=draw(gbk_text(terminal)),
        plate_color=draw(st.integers(0, 9)),
        plate=draw(gbk_text(60)),
        layout=layout,
    )


@PROPERTY
@given(register=registers(), version=st.integers(0, 255), phone=PHONES, serial=st.integers(0, 0xFFFF))
def test_register_round_trip(register: Register, version: int, phone: str, serial: int) -> None:
    # The layout is told from the header edition first: a 2019 body goes with a 2019 header and a
    # 2011/2013 body with a 2013 header (an all-NUL 2019 body under a 2013 header is ambiguous).
    version_or_none = version if register.layout == 2019 else None
    body = encode_register_body(
        province=register.province,
        city=register.city,
        maker=register.maker,
        model=register.model,
        terminal_id=register.terminal_id,
        plate_color=register.plate_color,
        plate=register.plate,
        layout=register.layout,
    )
    message = decoded(encode(0x0100, body, phone=phone, serial=serial, version=version_or_none))
    assert message.body == register
    reply = decoded(register_reply(message, 0, "AUTH-" + str(serial), serial=1))
    assert reply.body == RegisterReply(serial, 0, "AUTH-" + str(serial))
    assert reply.header.protocol_version == version_or_none


@PROPERTY
@given(
    code=gbk_text(100).filter(bool),
    imei=st.none() | st.text(alphabet="0123456789", min_size=15, max_size=15),
    software=gbk_text(20),
    version=VERSIONS,
)
def test_authenticate_round_trip(code: str, imei: str | None, software: str, version: int | None) -> None:
    body = encode_authenticate_body(code, imei=imei, software_version=software)
    message = decoded(encode(0x0102, body, phone="1", serial=1, version=version))
    if imei is None:
        assert message.body == Authenticate(code)
    else:
        assert message.body == Authenticate(code, imei, software)


# ---------------------------------------------------------------------------------------------------------
# Fuzzing

VALID_FRAMES = [bytes.fromhex(item["raw_hex"]) for item in VECTORS]


def assert_decodes_safely(data: bytes) -> None:
    for options in ({}, {"skip_check": True}, {"lenient": True}, {"skip_check": True, "lenient": True}):
        result = decode(data, **options)
        if isinstance(result, DecodeError):
            assert result.code in ERROR_CODES, result
            assert " / " in result.message
            assert len(result.raw) <= codec.RAW_KEEP
        else:
            assert isinstance(result, Message)
            assert result.header.size + result.header.body_len + 1 <= codec.MAX_MESSAGE


@PROPERTY
@given(st.binary(max_size=1200))
def test_decode_arbitrary_bytes_never_raises(data: bytes) -> None:
    assert_decodes_safely(data)
    assert_decodes_safely(b"\x7e" + data + b"\x7e")
    payload = data.replace(b"\x7e", b"")
    assert_decodes_safely(b"\x7e" + escape(payload + bytes((check_code(payload),))) + b"\x7e")


@PROPERTY
@given(st.sampled_from(VALID_FRAMES), st.data())
def test_decode_mutated_frames_never_raises(frame: bytes, data: st.DataObject) -> None:
    mutated = bytearray(frame)
    fix_check = data.draw(st.booleans())
    for _ in range(data.draw(st.integers(1, 4))):
        operation = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete", "replace"]))
        position = data.draw(st.integers(0, len(mutated)))
        if operation == "flip" and position < len(mutated):
            mutated[position] ^= 1 << data.draw(st.integers(0, 7))
        elif operation == "truncate":
            del mutated[position:]
        elif operation == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del mutated[position : position + data.draw(st.integers(1, 8))]
        elif operation == "replace" and position < len(mutated):
            mutated[position] = data.draw(st.sampled_from(b"\x7e\x7d\x01\x02\x00\xff\x40\x20"))
    assert_decodes_safely(bytes(mutated))
    if fix_check:  # re-frame with a correct check code so the mutation reaches the body parsers
        content = unescape(bytes(mutated).strip(b"\x7e").replace(b"\x7e", b""), lenient=True)
        if isinstance(content, bytes) and content:
            payload = content[:-1]
            assert_decodes_safely(b"\x7e" + escape(payload + bytes((check_code(payload),))) + b"\x7e")


@PROPERTY
@given(
    msg_id=st.sampled_from([0x0001, 0x0100, 0x0102, 0x0200, 0x0704, 0x8001, 0x8004, 0x8100]),
    body=st.binary(max_size=300),
    version=VERSIONS,
)
def test_random_bodies_of_known_messages_never_raise(msg_id: int, body: bytes, version: int | None) -> None:
    result = decode(encode(msg_id, body, phone="1", serial=1, version=version))
    assert isinstance(result, Message | DecodeError)
    if isinstance(result, DecodeError):
        assert result.code == "bad_body"


# ---------------------------------------------------------------------------------------------------------
# Deframer


def deframe(chunks: list[bytes], deframer: Deframer | None = None) -> list[bytes | DecodeError]:
    deframer = deframer or Deframer()
    out: list[bytes | DecodeError] = []
    for chunk in chunks:
        out.extend(deframer.feed(chunk))
        assert deframer.buffered <= deframer.max_frame
    out.extend(deframer.flush())
    assert deframer.buffered == 0
    return out


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(stream)) for cut in cuts})
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]


def frames_only(items: list[bytes | DecodeError]) -> list[bytes]:
    return [item for item in items if isinstance(item, bytes)]


@PROPERTY
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(VALID_FRAMES), st.sampled_from(["shared", "plain", "extra"])),
        min_size=1,
        max_size=8,
    ),
    garbage=st.binary(max_size=40).map(lambda junk: junk.replace(b"\x7e", b"")),
    cuts=st.lists(st.integers(0, 2000), max_size=40),
)
def test_deframer_yields_every_frame_once_in_order(
    plan: list[tuple[bytes, str]], garbage: bytes, cuts: list[int]
) -> None:
    stream = garbage
    for index, (frame, joint) in enumerate(plan):
        if joint == "shared" and index:
            stream += frame[1:]  # the previous closing flag opens this frame: …7E…
        elif joint == "extra":
            stream += b"\x7e" + frame  # …7E7E7E…
        else:
            stream += frame  # …7E7E…
    out = deframe(split(stream, cuts))
    assert frames_only(out) == [frame for frame, _ in plan]
    errors = [item for item in out if isinstance(item, DecodeError)]
    assert [(error.code, error.raw) for error in errors] == ([("no_frame", garbage)] if garbage else [])


def test_deframer_single_bytes_and_whole_stream() -> None:
    stream = b"".join(VALID_FRAMES)
    assert deframe([stream]) == VALID_FRAMES
    assert deframe([bytes([byte]) for byte in stream]) == VALID_FRAMES
    for frame in deframe([stream]):
        assert isinstance(frame, bytes)
        case = VECTORS[VALID_FRAMES.index(frame)]
        assert isinstance(decode(frame, **options_for(case)), Message)


def test_deframer_half_frame_waits_and_flush_reports_it() -> None:
    deframer = Deframer()
    frame = raw_of("jt-yzh-0200-2019-attachments")
    assert deframer.feed(frame[:30]) == []
    assert deframer.buffered == 29
    assert deframer.feed(frame[30:]) == [frame]
    assert deframer.feed(frame[:10]) == []
    leftovers = deframer.flush()
    assert len(leftovers) == 1 and isinstance(leftovers[0], DecodeError) and leftovers[0].code == "truncated"


def test_deframer_drops_an_endless_frame_and_recovers() -> None:
    deframer = Deframer(max_frame=100)
    frame = raw_of("jt-smallchi-0002")
    out = deframer.feed(b"\x7e" + b"\x01" * 150)
    assert len(out) == 1 and isinstance(out[0], DecodeError) and out[0].code == "too_long"
    assert out[0].raw == b"\x01" * 100
    assert deframer.buffered <= 100
    for _ in range(5):
        deframer.feed(b"\x02" * 70)
        assert deframer.buffered <= 100
    assert deframer.buffered == 0  # the rest of the over-long frame is skipped, not buffered
    assert deframer.feed(frame + frame) == [frame, frame]


@PROPERTY
@given(st.lists(st.binary(max_size=300), max_size=20), st.integers(13, 400))
def test_deframer_buffer_is_bounded_and_never_raises(chunks: list[bytes], max_frame: int) -> None:
    deframer = Deframer(max_frame=max_frame)
    for chunk in chunks:
        for item in deframer.feed(chunk):
            if isinstance(item, bytes):
                assert item[:1] == item[-1:] == b"\x7e" and 0x7E not in item[1:-1]
                assert len(item) <= max_frame + 2
                assert_decodes_safely(item)
            else:
                assert item.code in {"no_frame", "too_long"}
        assert deframer.buffered <= max_frame
    deframer.flush()


def test_deframer_rejects_a_tiny_max_frame() -> None:
    with pytest.raises(ValueError, match="max_frame"):
        Deframer(max_frame=12)
