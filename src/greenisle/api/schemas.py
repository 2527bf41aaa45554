from ninja import Schema


class ErrorOut(Schema):
    detail: str
    field: str | None = None
    code: str = "invalid"
