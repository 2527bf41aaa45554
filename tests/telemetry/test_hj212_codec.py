"""The HJ 212 codec (greenisle.telemetry.hj212.codec): the 26 protocol vectors, the standard's and our
derived examples, tolerances, round trips, the stream deframer and the bin-metric mapping.

Pure tests: no database, no Django fixtures. The vectors are a copy of
``shared/data/protocol-vectors/hj212.json`` kept in ``tests/telemetry/vectors/`` so a fresh clone can run.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenisle.telemetry.hj212 import (
    BinMetricMap,
    BinSample,
    CrcMode,
    DecodeError,
    Deframer,
    Packet,
    answer_9013,
    answer_9014,
    bin_sample,
    by_code,
    codec,
    crc16_hj212,
    crc16_modbus,
    decode_frame,
    encode_frame,
    encode_packet,
    format_cp,
    log_text,
    parse_datatime,
    reply_for,
)

HERE = Path(__file__).resolve()
VECTOR_FILE = HERE.parent / "vectors" / "hj212.json"
SHARED_VECTOR_FILE = HERE.parents[3] / "shared/data/protocol-vectors/hj212.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))["vectors"]
ALL_MODES = tuple(CrcMode)
UTC = dt.UTC

PROPERTY = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# Standard Appendix A and protocols.md 1.8 (derived by us).
APPENDIX_A = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
    b"CP=&&RtdInterval=30&&1C80\r\n"
)
BIN_2011 = (
    b"##0202QN=20250601120000123;ST=A1;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;"
    b"CP=&&DataTime=20250601120000;a01001-Rtd=23.5,a01001-Flag=N;i43001-Rtd=67.5,i43001-Flag=N;"
    b"i43002-Rtd=152.30,i43002-Flag=N&&5B40\r\n"
)
BIN_3020 = (
    "##0150QN=20250601120105456;ST=A1;CN=3020;PW=123456;MN=010000A8900016F000169DC0;Flag=5;"
    "CP=&&DataTime=20250601120105;i31001-Info=//门已打开 卡号1234//&&CC01\r\n"
).encode()
ANSWER_A001 = (
    b"##0087QN=20250601120000123;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&A001\r\n"
)


def vector(vector_id: str) -> dict[str, Any]:
    return next(item for item in VECTORS if item["id"] == vector_id)


def decoded(frame: bytes, **kwargs: Any) -> Packet:
    result = decode_frame(frame, **kwargs)
    assert isinstance(result, Packet), result
    return result


def failed(frame: bytes, **kwargs: Any) -> DecodeError:
    result = decode_frame(frame, **kwargs)
    assert isinstance(result, DecodeError), result
    return result


def segment_of(raw: bytes) -> bytes:
    body = raw[6:]
    if body.endswith(b"\r\n"):
        body = body[:-2]
    return body[:-4]


def reference_crc(data: bytes, *, modbus: bool = False) -> int:
    """The Appendix A algorithm spelled out bit by bit, as in protocols.md 1.6."""
    reg = 0xFFFF
    for byte in data:
        reg = reg ^ byte if modbus else (reg >> 8) ^ byte
        for _ in range(8):
            lsb = reg & 1
            reg >>= 1
            if lsb:
                reg ^= 0xA001
    return reg


# ---------------------------------------------------------------------------------------------------------
# The vectors


def test_vector_copy_matches_shared_file() -> None:
    assert len(VECTORS) == 26
    if not SHARED_VECTOR_FILE.exists():
        pytest.skip("shared vector file not present (fresh clone)")
    assert SHARED_VECTOR_FILE.read_bytes() == VECTOR_FILE.read_bytes()


def assert_matches_expected(packet: Packet, expected: dict[str, Any]) -> None:
    assert packet.fields == expected["fields"]
    assert packet.cp == expected["cp"]
    assert packet.cp_groups == tuple(tuple(group) for group in expected["cp_groups"])
    assert by_code(packet) == expected["by_code"]
    fields = expected["fields"]
    assert (packet.qn, packet.st, packet.cn, packet.pw, packet.mn) == tuple(
        fields.get(key) for key in ("QN", "ST", "CN", "PW", "MN")
    )
    flag_bits = expected.get("flag_bits")
    if flag_bits is None:  # HJ/T 212-2005 without Flag
        assert "Flag" not in fields
        assert packet.flag is None
        assert (packet.version, packet.need_ack, packet.has_pnum_pno) == (0, False, False)
    else:
        assert packet.flag == int(fields["Flag"])
        assert packet.version == flag_bits["version"]
        assert packet.need_ack is flag_bits["need_ack"]
        assert packet.has_pnum_pno is flag_bits["has_pnum_pno"]
    assert len(packet.segment) == expected["actual_len"]


@pytest.mark.parametrize("case", VECTORS, ids=[item["id"] for item in VECTORS])
def test_vector(case: dict[str, Any]) -> None:
    raw = case["raw"].encode("utf-8")
    expected = case["expected"]
    segment = segment_of(raw)
    assert len(segment) == expected["actual_len"]
    assert int(raw[2:6]) == expected["declared_len"]
    assert crc16_hj212(segment) == int(expected["crc_hj212"], 16)
    assert crc16_modbus(segment) == int(expected["crc_modbus"], 16)

    result = decode_frame(raw, crc_modes=ALL_MODES)
    check = expected["crc_check"]
    if check == "mismatch":
        assert isinstance(result, DecodeError)
        assert result.code == "bad_crc"
        assert "CRC" in result.message and "校验码" in result.message
        assert result.raw == raw[: codec.RAW_KEEP]
        # The data segment itself is fine: framed with its right CRC it decodes to the expectation.
        packet = decoded(encode_frame(segment.decode("utf-8")))
        assert_matches_expected(packet, expected)
        return

    assert isinstance(result, Packet), result
    assert_matches_expected(result, expected)
    assert result.segment == segment
    warnings = set(result.warnings)
    assert ("lowercase_crc" in warnings) == (expected["crc_in_frame"] != expected["crc_in_frame"].upper())
    assert ("over_1024" in warnings) == (expected["declared_len"] > 1024)
    assert ("length_mismatch" in warnings) == (expected["declared_len"] != expected["actual_len"])
    assert ("no_crlf" in warnings) == (not expected["tail_crlf"])
    strict = decode_frame(raw)
    if check == "verified":
        assert result.crc_mode is CrcMode.STANDARD
        assert "nonstandard_crc" not in warnings
        assert strict == result
    elif check == "modbus_crc_byteswapped":
        assert result.crc_mode is CrcMode.MODBUS_SWAPPED
        assert "nonstandard_crc" in warnings
        assert isinstance(strict, DecodeError) and strict.code == "bad_crc"
        assert "modbus_swapped" in strict.message
        assert decoded(raw, crc_modes=[CrcMode.MODBUS_SWAPPED]).crc_mode is CrcMode.MODBUS_SWAPPED
        assert failed(raw, crc_modes=[CrcMode.MODBUS]).code == "bad_crc"
    else:  # pragma: no cover - a new kind of vector
        pytest.fail(f"unknown crc_check {check!r}")


@pytest.mark.parametrize("case", VECTORS, ids=[item["id"] for item in VECTORS])
def test_vector_without_crlf(case: dict[str, Any]) -> None:
    raw = case["raw"].encode("utf-8").removesuffix(b"\r\n")
    with_crlf = decode_frame(raw + b"\r\n", crc_modes=ALL_MODES)
    without = decode_frame(raw, crc_modes=ALL_MODES)
    if isinstance(with_crlf, DecodeError):
        assert isinstance(without, DecodeError) and without.code == with_crlf.code
        return
    assert isinstance(without, Packet)
    assert without.warnings == ("no_crlf", *with_crlf.warnings)
    assert without.fields == with_crlf.fields and without.cp == with_crlf.cp


def test_modbus_variant_written_high_byte_first() -> None:
    segment = segment_of(APPENDIX_A)
    frame = b"##0101" + segment + b"%04X\r\n" % crc16_modbus(segment)
    assert frame.endswith(b"0759\r\n")
    assert decoded(frame, crc_modes=[CrcMode.MODBUS]).crc_mode is CrcMode.MODBUS
    assert failed(frame).code == "bad_crc"
    assert failed(frame, crc_modes=[CrcMode.MODBUS_SWAPPED]).code == "bad_crc"
    assert failed(frame, crc_modes=()).code == "bad_crc"
    # StrEnum: plain strings from configuration work too.
    from_settings: Any = {"standard", "modbus"}
    assert decoded(frame, crc_modes=from_settings).crc_mode is CrcMode.MODBUS


# ---------------------------------------------------------------------------------------------------------
# CRC and the worked examples


def test_crc_check_values() -> None:
    assert crc16_hj212(b"123456789") == 0x2F80
    assert crc16_modbus(b"123456789") == 0x4B37
    assert crc16_hj212(b"") == 0xFFFF
    assert crc16_modbus(b"") == 0xFFFF


@PROPERTY
@given(st.binary(max_size=300))
def test_crc_tables_match_the_bitwise_algorithm(data: bytes) -> None:
    assert crc16_hj212(data) == reference_crc(data)
    assert crc16_modbus(data) == reference_crc(data, modbus=True)


def test_appendix_a_worked_example() -> None:
    segment = segment_of(APPENDIX_A)
    assert len(segment) == 101
    assert crc16_hj212(segment) == 0x1C80  # the prose's "1C08" is a typo
    assert crc16_modbus(segment) == 0x0759
    packet = decoded(APPENDIX_A)
    assert (packet.qn, packet.st, packet.cn, packet.pw, packet.mn) == (
        "20160801085857223",
        "32",
        "1062",
        "100000",
        "010000A8900016F000169DC0",
    )
    assert (packet.flag, packet.version, packet.need_ack, packet.has_pnum_pno) == (5, 1, True, False)
    assert packet.cp == {"RtdInterval": "30"}
    assert packet.warnings == ()
    assert encode_frame(segment.decode()) == APPENDIX_A


def test_bin_examples_of_section_1_8() -> None:
    packet = decoded(BIN_2011)
    assert crc16_hj212(packet.segment) == 0x5B40
    assert encode_frame(packet.segment.decode()) == BIN_2011

    door = decoded(BIN_3020)
    text = door.segment.decode("utf-8")
    assert (len(text), len(door.segment)) == (138, 150)  # the length counts UTF-8 bytes
    assert crc16_hj212(door.segment) == 0xCC01
    assert encode_frame(text) == BIN_3020
    assert door.cp["i31001-Info"] == "//门已打开 卡号1234//"
    assert log_text(door.cp["i31001-Info"]) == "门已打开 卡号1234"
    assert door.cp_groups == (("DataTime=20250601120105",), ("i31001-Info=//门已打开 卡号1234//",))


def test_encode_packet_reproduces_the_bin_example() -> None:
    pairs = [
        ("DataTime", "20250601120000"),
        ("a01001-Rtd", "23.5"),
        ("a01001-Flag", "N"),
        ("i43001-Rtd", "67.5"),
        ("i43001-Flag", "N"),
        ("i43002-Rtd", "152.30"),
        ("i43002-Flag", "N"),
    ]
    common: dict[str, Any] = {
        "qn": "20250601120000123",
        "st": "A1",
        "cn": "2011",
        "pw": "123456",
        "mn": "010000A8900016F000169DC0",
        "flag": 5,
    }
    assert encode_packet(**common, cp=pairs) == BIN_2011
    assert encode_packet(**common, cp=dict(pairs)) == BIN_2011
    assert encode_packet(**common, cp=format_cp(pairs)) == BIN_2011


# ---------------------------------------------------------------------------------------------------------
# Answers


def test_answer_9014_reproduces_the_worked_answer() -> None:
    assert answer_9014(decoded(BIN_2011)) == ANSWER_A001
    assert reply_for(decoded(BIN_2011)) == ANSWER_A001
    answer = decoded(ANSWER_A001)
    assert (answer.cn, answer.st, answer.flag, answer.cp, answer.need_ack) == ("9014", "91", 4, {}, False)
    assert reply_for(answer) is None  # no answer to answers


def test_answer_9014_for_the_standard_c14_example() -> None:
    request = decoded(vector("hj-std-C24-2081")["raw"].encode())
    assert answer_9014(request) == vector("hj-std-C14-9014")["raw"].encode()


@pytest.mark.parametrize("vector_id", ["hj-alltobs-2011-flag8-7d00", "hj-caoyiliang-2025-3020"])
def test_answer_to_2025_packets_uses_flag_8(vector_id: str) -> None:
    packet = decoded(vector(vector_id)["raw"].encode())
    answer = decoded(answer_9014(packet))
    assert answer.fields == {
        "QN": packet.qn,
        "ST": "91",
        "CN": "9014",
        "PW": packet.pw,
        "MN": packet.mn,
        "Flag": "8",
    }
    assert answer.version == 2 and not answer.need_ack


def test_answer_to_legacy_packet_omits_qn_and_flag() -> None:
    packet = decoded(vector("hj-xiaoyao-2011-legacy-4980")["raw"].encode())
    answer = answer_9014(packet)
    assert answer == encode_frame("ST=91;CN=9014;PW=123456;MN=LD130133000015;CP=&&&&")
    assert reply_for(packet) is None  # no Flag: no answer required


def test_answer_9013_and_reply_for_notices() -> None:
    notice = decoded(
        encode_packet(qn="20250601120000123", st="A1", cn="2022", pw="123456", mn="BIN1", flag=5, cp=[])
    )
    expected = encode_frame("QN=20250601120000123;ST=91;CN=9013;PW=123456;MN=BIN1;Flag=4;CP=&&&&")
    assert answer_9013(notice) == expected
    assert reply_for(notice) == expected
    quiet = decoded(encode_packet(qn="1", st="A1", cn="2011", pw="p", mn="m", flag=4, cp=[]))
    assert reply_for(quiet) is None


def test_split_packets_are_answered_per_packet() -> None:
    parts = [
        decoded(
            encode_packet(
                qn=f"2025060112000012{number}",
                st="A1",
                cn="2051",
                pw="p",
                mn="m",
                flag=7,
                pnum=2,
                pno=number,
                cp=[("DataTime", "20250601120000")],
            )
        )
        for number in (1, 2)
    ]
    for part in parts:
        assert (part.has_pnum_pno, part.need_ack, part.pnum, part.warnings) == (True, True, 2, ())
        assert decoded(answer_9014(part)).qn == part.qn


# ---------------------------------------------------------------------------------------------------------
# Tolerances and errors


def test_length_counted_in_characters_is_accepted_with_a_warning() -> None:
    wrong = b"##0138" + BIN_3020[6:]  # a device that counted characters, not bytes
    packet = decoded(wrong)
    assert "length_mismatch" in packet.warnings
    assert packet.cp["i31001-Info"] == "//门已打开 卡号1234//"


def test_length_mismatch_with_bad_crc_is_rejected() -> None:
    assert failed(b"##0138" + BIN_3020[6:-6] + b"0000\r\n").code == "bad_length"
    assert failed(b"##0999" + APPENDIX_A[6:-6] + b"0000\r\n").code in {"bad_length", "truncated"}


def test_truncated_and_malformed_frames() -> None:
    assert failed(b"").code == "truncated"
    assert failed(b"#").code == "truncated"
    assert failed(b"##01").code == "truncated"
    assert failed(APPENDIX_A[:50]).code == "truncated"
    assert failed(APPENDIX_A[:-8]).code == "truncated"
    assert failed(b"xx" + APPENDIX_A[2:]).code == "no_header"
    assert failed(b"##01a1" + APPENDIX_A[6:]).code == "bad_length"
    assert failed(APPENDIX_A[:-6] + b"1C8G\r\n").code == "bad_crc"
    assert failed(APPENDIX_A[:-6] + b"1C81\r\n").code == "bad_crc"
    assert failed(b"##" + b"9" * 20000).code == "too_long"


def test_lowercase_crc_and_missing_crlf() -> None:
    packet = decoded(APPENDIX_A[:-6] + b"1c80")
    assert packet.warnings == ("no_crlf", "lowercase_crc")


def test_over_1024_is_accepted_with_a_warning() -> None:
    frame = encode_packet(qn=None, st="32", cn="2011", pw="p", mn="m", flag=None, cp=[("x", "1" * 2000)])
    assert frame.startswith(b"##2033")
    assert decoded(frame).warnings == ("over_1024",)
    with pytest.raises(ValueError):
        encode_frame("x" * 10_000)


def test_non_utf8_and_control_characters_are_errors() -> None:
    gbk = "ST=32;CN=3020;PW=p;MN=m;CP=&&i31001-Info=//门已打开//&&".encode("gbk")
    frame = b"##%04d%b%04X\r\n" % (len(gbk), gbk, crc16_hj212(gbk))
    assert failed(frame).code == "bad_encoding"
    nul = b"ST=32;CN=2011;PW=p\x00;MN=m;CP=&&&&"
    assert failed(b"##%04d%b%04X\r\n" % (len(nul), nul, crc16_hj212(nul))).code == "bad_segment"
    with pytest.raises(ValueError):
        encode_frame("ST=32;CN=2011;PW=p\r\n;MN=m;CP=&&&&")


@pytest.mark.parametrize(
    ("segment", "code"),
    [
        ("ST=32;CN=2011;PW=p;MN=m", "bad_segment"),  # no CP
        ("ST=32;CN=2011;PW=p;MN=m;CP=&&a=1", "bad_segment"),  # CP not closed
        ("ST=32;CN=2011;PW=p;MN=m;CP=&&a=1&&junk", "bad_segment"),
        ("ST=32;CN;PW=p;MN=m;CP=&&&&", "bad_field"),
        ("ST=32;=2011;PW=p;MN=m;CP=&&&&", "bad_field"),
        ("ST=32;CN=2011;CN=2012;PW=p;MN=m;CP=&&&&", "bad_field"),
        ("ST=32;CN=2011;PW=p;MN=m;Flag=x;CP=&&&&", "bad_field"),
        ("ST=32;CN=2011;PW=p;MN=m;Flag=256;CP=&&&&", "bad_field"),
        ("ST=32;CN=2011;PW=p;MN=m;Flag=５;CP=&&&&", "bad_field"),  # full-width digit
        ("ST=32;CN=2011;PW=p;MN=m;Flag=7;PNUM=-1;PNO=1;CP=&&&&", "bad_field"),
        ("ST=32;CN=2011;PW=p;MN=m;CP=&&a=1;b&&", "bad_field"),
        ("ST=32;CN=2011;PW=p;MN=m;CP=&&=1&&", "bad_field"),
        ("ST=32;CN=2011;PW=p;MN=m;CP=&&i31001-Info=//open;door&&", "bad_field"),  # unterminated log
    ],
)
def test_segment_errors(segment: str, code: str) -> None:
    error = failed(encode_frame(segment))
    assert error.code == code
    assert " / " in error.message


def test_unknown_fields_are_kept() -> None:
    packet = decoded(
        encode_frame(
            "QN=20250601120000123;ST=32;CN=2011;PW=p;MN=m;Flag=8;RF=1;CP=&&DataTime=20250601120000&&"
        )
    )
    assert packet.fields["RF"] == "1" and packet.version == 2 and packet.warnings == ()
    after = decoded(encode_frame("ST=32;CN=2011;PW=p;MN=m;Flag=8;CP=&&a=1&&;RF=0"))
    assert after.fields["RF"] == "0" and after.cp == {"a": "1"} and "fields_after_cp" in after.warnings


def test_legacy_packet_without_qn_and_flag() -> None:
    packet = decoded(vector("hj-xiaoyao-2011-legacy-4980")["raw"].encode())
    assert (packet.qn, packet.flag, packet.version, packet.need_ack) == (None, None, 0, False)
    assert packet.cp["DataTime"] == "20160824003817000"


def test_flag_edge_cases() -> None:
    def packet(flag: int, extra: str = "") -> Packet:
        return decoded(encode_frame(f"QN=1;ST=32;CN=2011;PW=p;MN=m;Flag={flag};{extra}CP=&&&&"))

    assert (packet(0).version, packet(4).version, packet(11).version) == (0, 1, 2)
    assert packet(255).version == 63 and "unknown_version" in packet(255).warnings
    assert "missing_pnum_pno" in packet(6).warnings
    assert "pno_out_of_range" in packet(6, "PNUM=2;PNO=3;").warnings
    assert packet(6, "PNUM=2;PNO=2;").warnings == ()


def test_cp_log_may_contain_separators_and_chinese() -> None:
    log = "//清洗管路;a=b,c&&d 门已打开 http://x//"
    frame = encode_packet(
        qn="1",
        st="32",
        cn="3020",
        pw="p",
        mn="m",
        flag=4,
        cp=[("DataTime", "20250601120000"), ("i11001-Info", log), ("i11001-Flag", "N"), ("x", "1")],
    )
    packet = decoded(frame)
    assert packet.cp == {
        "DataTime": "20250601120000",
        "i11001-Info": log,
        "i11001-Flag": "N",
        "x": "1",
    }
    assert packet.cp_groups == (
        ("DataTime=20250601120000",),
        (f"i11001-Info={log}", "i11001-Flag=N"),
        ("x=1",),
    )
    assert by_code(packet) == {"i11001": {"Info": log, "Flag": "N"}}


def test_duplicate_cp_keys_keep_the_first_with_a_warning() -> None:
    packet = decoded(encode_frame("ST=32;CN=2011;PW=p;MN=m;CP=&&a-Rtd=1;a-Rtd=2;;b=3,&&"))
    assert packet.cp == {"a-Rtd": "1", "b": "3"}
    assert packet.cp_groups == (("a-Rtd=1",), ("a-Rtd=2",), ("b=3",))
    assert packet.warnings == ("duplicate_cp_key",)


@pytest.mark.parametrize(
    "bad",
    [
        {"cp": [("a;b", "1")]},
        {"cp": [("a", "1;2")]},
        {"cp": [("a", "1,2")]},
        {"cp": [("", "1")]},
        {"cp": [("a", "//x//;y//")]},
        {"cp": [("a", "//x")]},
        {"pw": "a;b"},
        {"flag": 256},
        {"pnum": -1},
    ],
)
def test_encode_packet_rejects_what_cannot_be_framed(bad: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "qn": "1",
        "st": "32",
        "cn": "2011",
        "pw": "p",
        "mn": "m",
        "flag": 4,
        "cp": [],
    }
    arguments.update(bad)
    with pytest.raises(ValueError):
        encode_packet(**arguments)


# ---------------------------------------------------------------------------------------------------------
# Round trips


def test_round_trip_simple() -> None:
    pairs = [("DataTime", "20250601120000"), ("w01018-Rtd", "2.2"), ("w01018-Flag", "N"), ("PolId", "w01018")]
    frame = encode_packet(qn="20250601120000123", st="32", cn="2011", pw="123456", mn="MN1", flag=5, cp=pairs)
    packet = decoded(frame)
    assert packet.fields == {
        "QN": "20250601120000123",
        "ST": "32",
        "CN": "2011",
        "PW": "123456",
        "MN": "MN1",
        "Flag": "5",
    }
    assert packet.cp == dict(pairs)
    assert packet.cp_groups == (
        ("DataTime=20250601120000",),
        ("w01018-Rtd=2.2", "w01018-Flag=N"),
        ("PolId=w01018",),
    )
    assert by_code(packet) == {"w01018": {"Rtd": "2.2", "Flag": "N"}}
    assert packet.warnings == ()


FIELD_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=";"), max_size=24
)
CP_KEY = st.builds(
    lambda code, suffix: f"{code}-{suffix}" if suffix else code,
    st.from_regex(r"[a-zA-Z0-9]{1,8}", fullmatch=True),
    st.sampled_from(["", "Rtd", "Flag", "Avg", "Min", "Max", "Cou", "Info", "SampleTime", "ZsRtd", "EFlag"]),
)
PLAIN_VALUE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=";,"), max_size=20
).filter(lambda value: not value.startswith("//"))
NUMBER_VALUE = st.decimals(
    allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**9
).map(str)
LOG_VALUE = (
    st.text(
        alphabet=st.sampled_from(list("门已打开关闭卡号清洗管路异常 ;,=&/abcXYZ0123:"))
        | st.characters(blacklist_categories=("Cs", "Cc")),
        max_size=40,
    )
    .filter(lambda inner: "//;" not in inner and "//," not in inner)
    .map(lambda inner: f"//{inner}//")
)
CP_PAIRS = st.lists(
    st.tuples(CP_KEY, st.one_of(PLAIN_VALUE, NUMBER_VALUE, LOG_VALUE)),
    max_size=12,
    unique_by=lambda pair: pair[0],
)


@PROPERTY
@given(
    qn=st.none() | st.from_regex(r"[0-9]{17}", fullmatch=True),
    st_=st.from_regex(r"[0-9A-Z]{2,3}", fullmatch=True),
    cn=st.from_regex(r"[0-9]{4}", fullmatch=True),
    pw=FIELD_TEXT,
    mn=FIELD_TEXT,
    flag=st.none() | st.integers(0, 255),
    pnum=st.none() | st.integers(0, 99),
    pno=st.none() | st.integers(0, 99),
    pairs=CP_PAIRS,
)
def test_round_trip_property(
    qn: str | None,
    st_: str,
    cn: str,
    pw: str,
    mn: str,
    flag: int | None,
    pnum: int | None,
    pno: int | None,
    pairs: list[tuple[str, str]],
) -> None:
    frame = encode_packet(qn=qn, st=st_, cn=cn, pw=pw, mn=mn, flag=flag, pnum=pnum, pno=pno, cp=pairs)
    packet = decoded(frame)
    expected_fields = {"ST": st_, "CN": cn, "PW": pw, "MN": mn}
    if qn is not None:
        expected_fields["QN"] = qn
    if flag is not None:
        expected_fields["Flag"] = str(flag)
    if pnum is not None:
        expected_fields["PNUM"] = str(pnum)
    if pno is not None:
        expected_fields["PNO"] = str(pno)
    assert packet.fields == expected_fields
    assert (packet.qn, packet.st, packet.cn, packet.pw, packet.mn) == (qn, st_, cn, pw, mn)
    assert (packet.flag, packet.pnum, packet.pno) == (flag, pnum, pno)
    assert packet.cp == dict(pairs)
    assert [item for group in packet.cp_groups for item in group] == [f"{k}={v}" for k, v in pairs]
    assert packet.crc_mode is CrcMode.STANDARD
    assert set(packet.warnings) <= {"over_1024", "unknown_version", "missing_pnum_pno", "pno_out_of_range"}
    assert len(packet.segment) == int(frame[2:6])


# ---------------------------------------------------------------------------------------------------------
# Robustness: decode_frame never raises

VALID_FRAMES = [item["raw"].encode() for item in VECTORS] + [APPENDIX_A, BIN_2011, BIN_3020]


def assert_decodes_safely(data: bytes) -> None:
    for modes in ((CrcMode.STANDARD,), ALL_MODES):
        result = decode_frame(data, crc_modes=modes)
        assert isinstance(result, Packet | DecodeError)
        if isinstance(result, DecodeError):
            assert result.code != "internal", result
            assert len(result.raw) <= codec.RAW_KEEP


@PROPERTY
@given(st.binary(max_size=2000))
def test_decode_arbitrary_bytes_never_raises(data: bytes) -> None:
    assert_decodes_safely(data)
    assert_decodes_safely(b"##" + data)
    assert_decodes_safely(b"##%04d" % len(data) + data)


@PROPERTY
@given(st.sampled_from(VALID_FRAMES), st.data())
def test_decode_mutated_frames_never_raises(frame: bytes, data: st.DataObject) -> None:
    mutated = bytearray(frame)
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
            mutated[position] = data.draw(st.sampled_from(b"#;,=&/\r\n\x00\xff0aF"))
    assert_decodes_safely(bytes(mutated))


def test_decode_frame_accepts_bytearray_and_rejects_non_bytes() -> None:
    assert decoded(bytearray(APPENDIX_A)).cn == "1062"
    assert decoded(memoryview(APPENDIX_A)).cn == "1062"  # type: ignore[arg-type]
    assert failed(APPENDIX_A.decode()).code == "bad_input"  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# Deframer

CRC_OK = [item["raw"].encode() for item in VECTORS if item["expected"]["crc_check"] != "mismatch"] + [
    APPENDIX_A,
    BIN_2011,
    BIN_3020,
]
CRC_BAD = [item["raw"].encode() for item in VECTORS if item["expected"]["crc_check"] == "mismatch"]
GARBAGE = st.binary(max_size=30).filter(lambda junk: b"##" not in junk)


def deframe(chunks: list[bytes], deframer: Deframer | None = None) -> list[bytes | DecodeError]:
    deframer = deframer or Deframer()
    out: list[bytes | DecodeError] = []
    for chunk in chunks:
        out.extend(deframer.feed(chunk))
        assert deframer.buffered < deframer.max_frame
    out.extend(deframer.flush())
    assert deframer.buffered == 0
    return out


def outcomes(items: list[bytes | DecodeError]) -> list[tuple[str, bytes]]:
    """What the frames decode to: ("ok", segment) or ("bad_crc", segment); garbage reports left out."""
    result: list[tuple[str, bytes]] = []
    for item in items:
        if isinstance(item, DecodeError):
            assert item.code in {"no_header", "bad_length", "truncated", "too_long"}, item
            continue
        packet = decode_frame(item, crc_modes=ALL_MODES)
        if isinstance(packet, Packet):
            result.append(("ok", packet.segment))
        else:
            assert packet.code == "bad_crc", (packet, item)
            result.append(("bad_crc", segment_of(item)))
    return result


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(stream)) for cut in cuts})
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]


@PROPERTY
@given(
    st.lists(
        st.tuples(st.sampled_from(CRC_OK + CRC_BAD), st.booleans(), GARBAGE),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.integers(0, 6000), max_size=30),
)
def test_deframer_yields_every_frame_once_in_order(
    plan: list[tuple[bytes, bool, bytes]], cuts: list[int]
) -> None:
    stream = b""
    expected: list[tuple[str, bytes]] = []
    for frame, keep_crlf, garbage in plan:
        bad = frame in CRC_BAD
        if not keep_crlf and not bad:  # a bad frame without CRLF cannot be told from what follows it
            frame = frame.removesuffix(b"\r\n")
        stream += garbage + frame
        expected.append(("bad_crc" if bad else "ok", segment_of(frame)))
    assert outcomes(deframe(split(stream, cuts))) == expected


@PROPERTY
@given(st.sampled_from(CRC_OK), st.lists(st.integers(0, 2200), max_size=20))
def test_deframer_byte_exact_for_frames_with_crlf(frame: bytes, cuts: list[int]) -> None:
    # Cut anywhere except just before the CRLF, where a frame whose CRC verifies is released at once.
    stream = frame + frame
    cuts = [cut for cut in cuts if cut % len(frame) not in (len(frame) - 2, len(frame) - 1)]
    assert deframe(split(stream, cuts)) == [frame, frame]


def test_deframer_single_bytes_and_whole_stream() -> None:
    stream = b"".join(CRC_OK)
    assert deframe([stream]) == CRC_OK
    one_by_one = deframe([bytes([byte]) for byte in stream])
    assert outcomes(one_by_one) == [("ok", segment_of(frame)) for frame in CRC_OK]


def test_deframer_releases_a_frame_without_crlf_at_once() -> None:
    deframer = Deframer()
    frame = APPENDIX_A.removesuffix(b"\r\n")
    assert deframer.feed(frame) == [frame]  # no waiting for the next frame or for flush
    assert deframer.feed(b"\r\n") == []  # a late CRLF is dropped silently
    assert deframer.buffered == 0


def test_deframer_reports_garbage_and_resyncs() -> None:
    items = deframe([b"hello world", APPENDIX_A[:30], APPENDIX_A[30:], b"\r\n\x00  ", b"##zz", BIN_2011])
    errors = [item for item in items if isinstance(item, DecodeError)]
    assert [error.code for error in errors] == ["no_header", "bad_length"]
    assert errors[0].raw == b"hello world"
    assert [item for item in items if isinstance(item, bytes)] == [APPENDIX_A, BIN_2011]


def test_deframer_wrong_declared_length_falls_back_to_crlf_or_header() -> None:
    short = b"##0138" + BIN_3020[6:]  # counted characters
    long = b"##0300" + APPENDIX_A[6:]  # declared too long
    short_bare = short.removesuffix(b"\r\n")
    items = deframe([short + long + short_bare + APPENDIX_A + short_bare])
    assert items == [short, long, short_bare, APPENDIX_A, short_bare]
    assert "length_mismatch" in decoded(short).warnings
    assert "length_mismatch" in decoded(long).warnings


def test_deframer_drops_an_endless_frame_and_recovers() -> None:
    deframer = Deframer(max_frame=1000)
    items = deframer.feed(b"##0500" + b"a" * 5000)
    assert deframer.buffered < 1000
    items += deframer.feed(APPENDIX_A)
    assert [item.code for item in items if isinstance(item, DecodeError)][0] == "too_long"
    assert items[-1] == APPENDIX_A
    assert deframer.flush() == []


def test_deframer_flush_reports_a_truncated_frame() -> None:
    deframer = Deframer()
    assert deframer.feed(APPENDIX_A[:8]) == []
    [error] = deframer.flush()
    assert isinstance(error, DecodeError) and error.code == "truncated"
    assert deframer.feed(APPENDIX_A[:40]) == []
    [partial] = deframer.flush()  # long enough to look like a frame: decode_frame says what is wrong
    assert isinstance(partial, bytes) and failed(partial).code == "truncated"
    bad_bare = APPENDIX_A[:-6] + b"0000"
    assert deframer.feed(bad_bare) == []  # the CRC does not verify: maybe more is coming
    assert deframer.flush() == [bad_bare]
    with pytest.raises(ValueError):
        Deframer(max_frame=8)


@PROPERTY
@given(
    st.integers(64, 1500),
    st.lists(st.one_of(st.sampled_from(CRC_OK), st.binary(max_size=400)), max_size=8),
    st.lists(st.integers(0, 8000), max_size=20),
)
def test_deframer_never_holds_more_than_max_frame(
    max_frame: int, parts: list[bytes], cuts: list[int]
) -> None:
    deframer = Deframer(max_frame=max_frame)
    for chunk in split(b"".join(parts), cuts):
        for item in deframer.feed(chunk):
            if isinstance(item, bytes):
                assert len(item) <= max_frame
                assert_decodes_safely(item)
            else:
                assert len(item.raw) <= codec.RAW_KEEP
        assert deframer.buffered < max_frame
    deframer.flush()
    assert deframer.buffered == 0


# ---------------------------------------------------------------------------------------------------------
# DataTime


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20250601120000", dt.datetime(2025, 6, 1, 4, 0, tzinfo=UTC)),
        ("20160824003817000", dt.datetime(2016, 8, 23, 16, 38, 17, tzinfo=UTC)),
        ("20160824003817123", dt.datetime(2016, 8, 23, 16, 38, 17, 123000, tzinfo=UTC)),
        ("20250101000000", dt.datetime(2024, 12, 31, 16, 0, tzinfo=UTC)),
        ("20240229235959", dt.datetime(2024, 2, 29, 15, 59, 59, tzinfo=UTC)),
    ],
)
def test_parse_datatime(value: str, expected: dt.datetime) -> None:
    parsed = parse_datatime(value)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "2025060112000",
        "202506011200000",
        "202506011200001234",
        "20251301120000",
        "20250230120000",
        "20230229120000",
        "20250601240000",
        "20250601126000",
        "20250601120060",
        "00000101000000",
        "00010101000000",
        "2025-06-01T1200",
        "2025060112000a",
        "２０２５０６０１１２００００",
        " 20250601120000",
    ],
)
def test_parse_datatime_rejects(value: str) -> None:
    assert parse_datatime(value) is None


# ---------------------------------------------------------------------------------------------------------
# Bin mapping


def bin_packet(cp: str, cn: str = "2011") -> Packet:
    return decoded(encode_frame(f"QN=20250601120000123;ST=A1;CN={cn};PW=123456;MN=BIN1;Flag=5;CP=&&{cp}&&"))


def test_bin_sample_of_the_2011_example() -> None:
    sample = bin_sample(decoded(BIN_2011))
    assert sample == BinSample(
        observed_at=dt.datetime(2025, 6, 1, 4, 0, tzinfo=UTC),
        device_time_raw="20250601120000",
        fill_pct=Decimal("67.5"),
        net_weight_kg=Decimal("152.30"),
        temperature_c=Decimal("23.5"),
        battery_pct=None,
        door_open=None,
        quality="N",
        sequence=None,
    )
    assert isinstance(sample, BinSample) and str(sample.net_weight_kg) == "152.30"


def test_bin_sample_of_the_door_log_example() -> None:
    sample = bin_sample(decoded(BIN_3020))
    assert isinstance(sample, BinSample)
    assert sample.door_open is True
    assert sample.fill_pct is None
    assert sample.observed_at == dt.datetime(2025, 6, 1, 4, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cp", "door_open"),
    [
        ("i32001-Info=1", True),
        ("i32001-Info=open", True),
        ("i32001-Info=//开//", True),
        ("i32001-Info=0", False),
        ("i32001-Info=closed", False),
        ("i32001-Info=关", False),
        ("i32001-Info=2", None),
        ("i31001-Info=//门已关闭 卡号1234//", False),
        ("i31001-Info=//门已打开//", True),
        ("i31001-Info=//刷卡 卡号1234//", None),
        ("i32001-Info=0;i31001-Info=//门已打开//", False),  # the state wins over the log
    ],
)
def test_bin_sample_door(cp: str, door_open: bool | None) -> None:
    sample = bin_sample(bin_packet(f"DataTime=20250601120000;{cp}", cn="3020"))
    assert isinstance(sample, BinSample)
    assert sample.door_open is door_open


def test_bin_sample_battery_quality_and_sequence() -> None:
    sample = bin_sample(
        bin_packet("DataTime=20250601120000;i43001-Rtd=80,i43001-Flag=Xy;i43003-Rtd=-1.50;Seq=42")
    )
    assert isinstance(sample, BinSample)
    assert (sample.fill_pct, sample.battery_pct, sample.quality, sample.sequence) == (
        Decimal(80),
        Decimal("-1.50"),
        "X",
        42,
    )


def test_bin_sample_minute_and_hour_data_fall_back_to_avg() -> None:
    cp = "DataTime=20250601110000;i43001-Avg=55.0,i43001-Flag=M;a01001-Avg=21.0"
    sample = bin_sample(bin_packet(cp, cn="2051"))
    assert isinstance(sample, BinSample)
    assert (sample.fill_pct, sample.temperature_c, sample.quality) == (Decimal("55.0"), Decimal("21.0"), "M")
    real_time = bin_sample(bin_packet(cp, cn="2011"))
    assert isinstance(real_time, BinSample) and real_time.fill_pct is None


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", "-inf", "1e5", "1_000", "", " 1", "1.2.3", "٣"])
def test_bin_sample_bad_value(value: str) -> None:
    error = bin_sample(bin_packet(f"DataTime=20250601120000;i43002-Rtd={value}"))
    assert isinstance(error, DecodeError)
    assert error.code == "bad_value"
    assert "i43002-Rtd" in error.message


@pytest.mark.parametrize(
    "cp", ["i43001-Rtd=1", "DataTime=20250230120000;i43001-Rtd=1", "DataTime=x;i43001-Rtd=1"]
)
def test_bin_sample_bad_datatime(cp: str) -> None:
    error = bin_sample(bin_packet(cp))
    assert isinstance(error, DecodeError) and error.code == "bad_datatime"


def test_bin_sample_bad_sequence() -> None:
    error = bin_sample(bin_packet("DataTime=20250601120000;i43001-Rtd=1;Seq=-1"))
    assert isinstance(error, DecodeError) and error.code == "bad_value" and "Seq" in error.message


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(lambda: bin_packet("", cn="9015"), id="heartbeat-9015"),
        pytest.param(lambda: decoded(APPENDIX_A), id="1062"),
        pytest.param(lambda: decoded(vector("hj-guocay-2011-cc01")["raw"].encode()), id="air-station-2011"),
        pytest.param(lambda: decoded(vector("hj-caoyiliang-2025-3020")["raw"].encode()), id="3020-request"),
    ],
)
def test_bin_sample_none_without_bin_data(packet: Any) -> None:
    assert bin_sample(packet()) is None


def test_bin_metric_map_is_configurable() -> None:
    metrics = BinMetricMap(fill="e43101", weight="e43102", data_cns=frozenset({"2011", "2099"}))
    packet = bin_packet("DataTime=20250601120000;e43101-Rtd=12.5;e43102-Rtd=3", cn="2099")
    sample = bin_sample(packet, metrics)
    assert isinstance(sample, BinSample)
    assert (sample.fill_pct, sample.net_weight_kg) == (Decimal("12.5"), Decimal(3))
    assert bin_sample(packet) is None  # not a data CN under the default map
