"""Webhooks: organisations are told when a manifest they are a party to changes state.

The audit chain is the outbox: every committed manifest event (``manifests.manifest.*``) becomes one
delivery per active subscription of the manifest's producer, carrier and receiver. A delivery is a
JSON POST signed like this::

    X-Greenisle-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

A 2xx answer acknowledges it; anything else (or no answer within the timeout) is retried after
30 s, 1 min, 2 min … (doubling, at most 1 h apart) up to ``MAX_ATTEMPTS``, then marked failed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlparse

import requests
from django.db import transaction
from django.utils import timezone

from greenisle.accounts.choices import Role
from greenisle.accounts.permissions import membership_of
from greenisle.audit.models import Event
from greenisle.audit.services import event_record
from greenisle.core.errors import NotFound, PermissionDenied, ServiceError
from greenisle.manifests.models import Manifest
from greenisle.notifications.models import DeliveryStatus, WebhookCursor, WebhookDelivery, WebhookSubscription

MAX_ATTEMPTS = 8
FIRST_RETRY_S = 30
MAX_RETRY_S = 3600
TIMEOUT_S = 5.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str, header: str, body: bytes, *, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: recompute the signature and refuse stale timestamps (replays)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


@transaction.atomic
def webhook_subscribe(*, actor: Any, url: str) -> tuple[WebhookSubscription, str]:
    """An organisation's administrator subscribes an HTTPS (or loopback HTTP) endpoint. Returns the
    subscription and its secret, shown this once."""
    membership = membership_of(actor)
    if membership.role != Role.ADMIN:
        raise PermissionDenied("只有单位管理员可订阅 / only an administrator subscribes", field="url")
    url = (url or "").strip()
    parsed = urlparse(url)
    loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if (
        len(url) > 500
        or parsed.scheme not in ("https", "http")
        or not parsed.hostname
        or (parsed.scheme == "http" and not loopback)
    ):
        raise ServiceError(
            "须为 https:// 地址 / the URL must be https:// (http only on loopback)", field="url"
        )
    secret = secrets.token_hex(32)
    subscription = WebhookSubscription.objects.create(
        organization=membership.organization, url=url, secret=secret, created_by=actor
    )
    event_record(
        action="notifications.webhook.subscribed",
        obj=subscription,
        actor=actor,
        organization=membership.organization,
        subject_organization=membership.organization,
        division_code=membership.organization.division_id,
        payload={"url": url},
    )
    return subscription, secret


@transaction.atomic
def webhook_unsubscribe(*, actor: Any, subscription_id: Any) -> None:
    membership = membership_of(actor)
    subscription = WebhookSubscription.objects.filter(
        pk=subscription_id, organization=membership.organization, active=True
    ).first()
    if subscription is None:
        raise NotFound("订阅不存在 / no such subscription", field="subscription_id")
    if membership.role != Role.ADMIN:
        raise PermissionDenied("只有单位管理员可退订 / only an administrator unsubscribes")
    subscription.active = False
    subscription.save(update_fields=["active", "updated_at"])
    event_record(
        action="notifications.webhook.unsubscribed",
        obj=subscription,
        actor=actor,
        organization=membership.organization,
        subject_organization=membership.organization,
        division_code=membership.organization.division_id,
        payload={"url": subscription.url},
    )


def _payload(event: Event, manifest: Manifest) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "action": event.action,
        "occurred_at": event.created_at.isoformat(),
        "hash": event.hash,
        "manifest": {
            "id": str(manifest.pk),
            "number": manifest.number,
            "status": manifest.status,
            "version": manifest.version,
            "producer": manifest.producer.name,
            "receiver": manifest.receiver.name,
        },
        "change": {
            k: v for k, v in event.payload.items() if k in ("from", "to", "outcome", "version", "reason")
        },
    }


def webhooks_enqueue(*, batch: int = 1000) -> int:
    """Turn manifest events committed since the cursor into deliveries. Returns how many were made."""
    made = 0
    with transaction.atomic():
        cursor, _ = WebhookCursor.objects.select_for_update().get_or_create(name="manifests")
        events = list(
            Event.objects.filter(
                id__gt=cursor.last_event_id, action__startswith="manifests.manifest."
            ).order_by("id")[:batch]
        )
        if not events:
            return 0
        manifests = {
            str(m.pk): m
            for m in Manifest.objects.filter(pk__in={e.object_id for e in events}).select_related(
                "producer", "receiver"
            )
        }
        parties_of = {k: {m.producer_id, m.carrier_id, m.receiver_id} for k, m in manifests.items()}
        subscriptions = list(
            WebhookSubscription.objects.filter(
                active=True, organization_id__in={o for p in parties_of.values() for o in p}
            )
        )
        now = timezone.now()
        rows = []
        for event in events:
            manifest = manifests.get(event.object_id)
            if manifest is None:
                continue
            payload = _payload(event, manifest)
            for subscription in subscriptions:
                if subscription.organization_id in parties_of[event.object_id]:
                    rows.append(
                        WebhookDelivery(
                            subscription=subscription, event=event, payload=payload, next_attempt_at=now
                        )
                    )
        WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        made = len(rows)
        cursor.last_event_id = events[-1].id
        cursor.save(update_fields=["last_event_id"])
    return made


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(FIRST_RETRY_S * 2 ** max(attempts - 1, 0), MAX_RETRY_S))


def webhooks_send_due(*, now: dt.datetime | None = None, limit: int = 200) -> dict[str, int]:
    """POST every delivery that is due; record the answer and schedule the retry."""
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .select_related("subscription")
        .order_by("next_attempt_at", "id")[:limit]
    )
    sent = failed = retried = 0
    session = requests.Session()
    for delivery in due:
        body = json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True).encode()
        timestamp = int(time.time())
        code: int | None = None
        error = ""
        try:
            response = session.post(
                delivery.subscription.url,
                data=body,
                timeout=TIMEOUT_S,
                allow_redirects=False,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "User-Agent": "greenisle-webhooks/1",
                    "X-Greenisle-Event": delivery.payload["action"],
                    "X-Greenisle-Delivery": str(delivery.pk),
                    "X-Greenisle-Signature": sign(delivery.subscription.secret, timestamp, body),
                },
            )
            code = response.status_code
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        delivery.attempts += 1
        delivery.last_status_code = code
        delivery.last_error = error or ("" if code and 200 <= code < 300 else f"HTTP {code}")
        if code is not None and 200 <= code < 300:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
            sent += 1
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            failed += 1
        else:
            delivery.next_attempt_at = timezone.now() + backoff(delivery.attempts)
            retried += 1
        delivery.save(
            update_fields=[
                "attempts", "last_status_code", "last_error", "status", "delivered_at", "next_attempt_at", "updated_at",
            ]
        )  # fmt: skip
    return {"delivered": sent, "retrying": retried, "failed": failed}
