"""Paging for every list endpoint: limit/offset, bounded so that no query string reaches the database
as a number it cannot hold (an unbounded limit or offset made SQLite and PostgreSQL fail with a 500)."""

from typing import Any

from ninja import Field, Schema
from ninja.conf import settings
from ninja.pagination import LimitOffsetPagination

MAX_LIMIT = 500
# Far beyond any table we keep, and well inside a signed 64-bit integer once limit is added.
MAX_OFFSET = 2**31 - 1


class Pagination(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(settings.PAGINATION_PER_PAGE, ge=1, le=MAX_LIMIT)
        offset: int = Field(0, ge=0, le=MAX_OFFSET)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=MAX_LIMIT, **kwargs)
