"""The error value of the HJ 212 codec: :class:`DecodeError`, returned (never raised) for bytes that
are not a usable packet or reading."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["RAW_KEEP", "DecodeError"]

#: How many bytes of the offending input a DecodeError keeps.
RAW_KEEP: Final = 200


@dataclass(frozen=True, slots=True)
class DecodeError:
    """Why some bytes are not a usable packet. Returned, never raised.

    ``code`` is short and stable for metrics (``no_header``, ``bad_length``, ``truncated``, ``bad_crc``,
    ``bad_encoding``, ``bad_segment``, ``bad_field``, ``too_long``, ``bad_input``, ``bad_datatime``,
    ``bad_value``, ``internal``); ``message`` is bilingual "中文 / English"; ``raw`` holds the offending
    bytes (at most :data:`RAW_KEEP` of them).
    """

    code: str
    message: str
    raw: bytes = b""


def decode_error(code: str, zh: str, en: str, raw: bytes = b"") -> DecodeError:
    return DecodeError(code=code, message=f"{zh} / {en}", raw=bytes(raw[:RAW_KEEP]))
