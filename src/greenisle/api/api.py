"""The JSON API under /api/v1/: the same services and visibility rules as the pages."""

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from greenisle.core.errors import ServiceError

api = NinjaAPI(
    title="greenisle (绿岛) API",
    version="1",
    description=(
        "Hazardous-waste collection and supervision. People authenticate with their session or "
        "`Authorization: Bearer <token>`; smart bins with `X-Device-Key`. Errors are JSON with "
        "`detail` and the `field` at fault."
    ),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(ServiceError)
def service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "payload", "query", "path")]
        errors.append({"field": ".".join(loc) or None, "detail": err.get("msg", "invalid")})
    first = errors[0] if errors else {"field": None, "detail": "invalid input"}
    body = {
        "detail": f"{first['field']}: {first['detail']}",
        "field": first["field"],
        "code": "invalid",
        "errors": errors,
    }
    return api.create_response(request, body, status=422)


@api.exception_handler(AuthenticationError)
def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request,
        {"detail": "未认证 / authentication required", "field": None, "code": "unauthenticated"},
        status=401,
    )


def _mount() -> None:
    from greenisle.accounts.api import router as accounts
    from greenisle.audit.api import router as audit
    from greenisle.devices.api import router as devices
    from greenisle.dispatch.api import router as dispatch
    from greenisle.ledger.api import router as ledger
    from greenisle.manifests.api import router as manifests
    from greenisle.notifications.api import router as notifications
    from greenisle.plans.api import router as plans
    from greenisle.supervision.api import router as supervision
    from greenisle.telemetry.api import router as telemetry

    api.add_router("/", accounts)
    api.add_router("/", telemetry)
    api.add_router("/", devices)
    api.add_router("/", dispatch)
    api.add_router("/", manifests)
    api.add_router("/", notifications)
    api.add_router("/", ledger)
    api.add_router("/", plans)
    api.add_router("/", supervision)
    # --- supervision: statistics and map routers ---
    from greenisle.supervision.api_map import router as supervision_map

    api.add_router("/", supervision_map)
    from greenisle.supervision.api_statistics import router as statistics

    api.add_router("/", statistics)
    # --- assessment router ---
    from greenisle.assessment.api import router as assessment

    api.add_router("/", assessment)
    api.add_router("/", audit)


_mount()
