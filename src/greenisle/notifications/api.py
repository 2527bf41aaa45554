import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from greenisle.api.auth import person_auth
from greenisle.api.schemas import ErrorOut
from greenisle.core.errors import NotFound
from greenisle.notifications.models import WebhookDelivery, WebhookSubscription
from greenisle.notifications.webhooks import webhook_subscribe, webhook_unsubscribe

router = Router(tags=["webhooks"], auth=person_auth)


class SubscribeIn(Schema):
    url: str = Field(max_length=500, description="https:// endpoint (http:// only on loopback)")


class SubscriptionOut(Schema):
    id: int
    url: str
    active: bool
    created_at: dt.datetime


class SubscribedOut(SubscriptionOut):
    secret: str = Field(description="HMAC-SHA256 key of the X-Greenisle-Signature header; shown once")


class DeliveryOut(Schema):
    id: int
    event_id: int
    action: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None

    @staticmethod
    def resolve_action(obj: Any) -> str:
        return str(obj.payload.get("action", ""))


def _mine(request: HttpRequest) -> Any:
    membership = request.user.current_membership  # type: ignore[union-attr]
    if membership is None:
        return WebhookSubscription.objects.none()
    return WebhookSubscription.objects.filter(organization_id=membership.organization_id)


@router.post(
    "/webhooks",
    response={201: SubscribedOut, 400: ErrorOut, 403: ErrorOut},
    summary="Subscribe to state changes of the manifests your organisation is a party to",
)
def subscribe(request: HttpRequest, payload: SubscribeIn) -> Any:
    subscription, secret = webhook_subscribe(actor=request.user, url=payload.url)
    return 201, {
        "id": subscription.pk,
        "url": subscription.url,
        "active": subscription.active,
        "created_at": subscription.created_at,
        "secret": secret,
    }


@router.get("/webhooks", response=list[SubscriptionOut])
def list_subscriptions(request: HttpRequest) -> Any:
    return list(_mine(request).filter(active=True))


@router.delete("/webhooks/{subscription_id}", response={204: None, 403: ErrorOut, 404: ErrorOut})
def unsubscribe(request: HttpRequest, subscription_id: int) -> Any:
    webhook_unsubscribe(actor=request.user, subscription_id=subscription_id)
    return 204, None


@router.get("/webhooks/{subscription_id}/deliveries", response={200: list[DeliveryOut], 404: ErrorOut})
def list_deliveries(request: HttpRequest, subscription_id: int) -> Any:
    subscription = _mine(request).filter(pk=subscription_id).first()
    if subscription is None:
        raise NotFound("订阅不存在 / no such subscription", field="subscription_id")
    return list(WebhookDelivery.objects.filter(subscription=subscription).order_by("-id")[:200])
