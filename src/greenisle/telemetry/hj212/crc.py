"""HJ 212 CRCs: the standard's "ANSI CRC16" (Appendix A) and the Modbus variants seen in the field.

Appendix A of HJ 212-2017: ``reg=0xFFFF; reg=(reg>>8)^byte; 8x shift/xor 0xA001``, written as 4 hex
digits, high byte first. It is not CRC-16/MODBUS; the Modbus variants seen in the field (protocols.md 1.6)
are accepted only when the caller lists them in ``crc_modes`` (see :func:`.codec.decode_frame`).
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from typing import Final

__all__ = ["CrcMode", "crc16_hj212", "crc16_modbus"]


def _reflected_table(poly: int) -> tuple[int, ...]:
    table = []
    for index in range(256):
        reg = index
        for _ in range(8):
            reg = (reg >> 1) ^ poly if reg & 1 else reg >> 1
        table.append(reg)
    return tuple(table)


_CRC_TABLE: Final = _reflected_table(0xA001)


def crc16_hj212(data: bytes) -> int:
    """HJ 212 Appendix A "ANSI CRC16" over ``data``: ``b"123456789"`` gives 0x2F80, ``b""`` 0xFFFF.

    Per byte the standard does ``reg = (reg >> 8) ^ byte`` and then eight reflected shift/xor-0xA001
    steps. After the first step the register is below 0x100, so the eight steps are one table look-up.
    """
    reg = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        reg = table[(reg >> 8) ^ byte]
    return reg


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (``reg ^= byte``; poly 0xA001 reflected, init 0xFFFF): ``b"123456789"`` gives 0x4B37."""
    reg = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        reg = (reg >> 8) ^ table[(reg ^ byte) & 0xFF]
    return reg


class CrcMode(enum.StrEnum):
    """Which CRC a frame carries: the standard one, or a Modbus variant seen in the field (1.6)."""

    STANDARD = "standard"
    MODBUS = "modbus"
    #: CRC-16/MODBUS written low byte first, e.g. ``A6EC`` for 0xECA6.
    MODBUS_SWAPPED = "modbus_swapped"


def matching_crc_mode(segment: bytes, received: int, modes: Collection[CrcMode]) -> CrcMode | None:
    """The first variant, in the order standard, Modbus, Modbus swapped, that is allowed and matches."""
    if CrcMode.STANDARD in modes and crc16_hj212(segment) == received:
        return CrcMode.STANDARD
    want_modbus = CrcMode.MODBUS in modes
    want_swapped = CrcMode.MODBUS_SWAPPED in modes
    if want_modbus or want_swapped:
        modbus = crc16_modbus(segment)
        if want_modbus and modbus == received:
            return CrcMode.MODBUS
        if want_swapped and ((modbus & 0xFF) << 8 | modbus >> 8) == received:
            return CrcMode.MODBUS_SWAPPED
    return None


ALL_CRC_MODES: Final = frozenset(CrcMode)
