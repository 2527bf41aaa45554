"""Errors raised by services; pages and the API turn them into messages that name the field."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the platform refuses. ``field`` names the input at fault, when there is one."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = str(message)
        self.field = field
        if code:
            self.code = code

    def as_dict(self) -> dict[str, object]:
        return {"detail": self.message, "field": self.field, "code": self.code}


class PermissionDenied(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    """Someone else changed the object first (two signers, two receivers)."""

    status = 409
    code = "conflict"


class Unauthenticated(ServiceError):
    """No credentials, or credentials nobody issued (an unknown device key)."""

    status = 401
    code = "unauthenticated"
