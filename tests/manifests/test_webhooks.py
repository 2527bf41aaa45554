"""Webhooks: signed POSTs of manifest state changes to the parties' endpoints, retried with backoff.
A real HTTP server on loopback plays the subscriber."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from greenisle.accounts.choices import Role
from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.manifests.services import manifest_deliver
from greenisle.notifications.models import DeliveryStatus, WebhookDelivery
from greenisle.notifications.webhooks import (
    MAX_ATTEMPTS,
    backoff,
    verify,
    webhook_subscribe,
    webhooks_enqueue,
    webhooks_send_due,
)


class Subscriber:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.answers.pop(0) if outer.answers else 204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    s = Subscriber()
    yield s
    s.server.shutdown()


@pytest.fixture
def producer_admin(world, make_member):
    return make_member(world.producer, Role.ADMIN, "alice_admin", "汽修管理员")


def test_a_party_receives_each_state_change_signed(world, producer_admin, departed_manifest, subscriber):
    webhooks_enqueue()  # what happened before the subscription is not sent
    subscription, secret = webhook_subscribe(actor=producer_admin, url=subscriber.url)
    manifest_deliver(actor=world.driver, manifest_id=departed_manifest.pk)
    assert webhooks_enqueue() == 1
    assert webhooks_send_due() == {"delivered": 1, "retrying": 0, "failed": 0}
    ((headers, body),) = subscriber.received
    assert verify(secret, headers["x-greenisle-signature"], body)
    assert not verify("another secret", headers["x-greenisle-signature"], body)
    assert not verify(secret, headers["x-greenisle-signature"], body + b" ")
    payload = json.loads(body)
    assert payload["action"] == headers["x-greenisle-event"] == "manifests.manifest.delivered"
    assert payload["manifest"]["number"] == departed_manifest.number
    assert payload["change"] == {"from": "in_transit", "to": "delivered"}
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED


def test_an_organisation_that_is_no_party_gets_nothing(
    world, departed_manifest, subscriber, make_member, producer_b
):
    outsider = make_member(producer_b, Role.ADMIN, "bob_admin", "家具厂管理员")
    webhook_subscribe(actor=outsider, url=subscriber.url)
    manifest_deliver(actor=world.driver, manifest_id=departed_manifest.pk)
    assert webhooks_enqueue() == 0
    webhooks_send_due()
    assert subscriber.received == []


def test_a_failing_endpoint_is_retried_with_backoff_then_marked_failed(
    world, producer_admin, departed_manifest, subscriber
):
    webhooks_enqueue()
    webhook_subscribe(actor=producer_admin, url=subscriber.url)
    manifest_deliver(actor=world.driver, manifest_id=departed_manifest.pk)
    webhooks_enqueue()
    subscriber.answers = [500]
    assert webhooks_send_due()["retrying"] == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.last_status_code) == (1, 500)
    wait = delivery.next_attempt_at - timezone.now()
    assert dt.timedelta(seconds=25) < wait <= dt.timedelta(seconds=30)
    assert webhooks_send_due() == {"delivered": 0, "retrying": 0, "failed": 0}  # not due yet
    assert webhooks_send_due(now=delivery.next_attempt_at)["delivered"] == 1  # the retry succeeds
    assert len(subscriber.received) == 2
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]


def test_an_unreachable_endpoint_fails_after_the_last_attempt(world, producer_admin, departed_manifest):
    webhooks_enqueue()
    webhook_subscribe(actor=producer_admin, url="http://127.0.0.1:9/nobody-listens")
    manifest_deliver(actor=world.driver, manifest_id=departed_manifest.pk)
    webhooks_enqueue()
    WebhookDelivery.objects.update(attempts=MAX_ATTEMPTS - 1)
    assert webhooks_send_due()["failed"] == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "Error" in delivery.last_error


def test_only_an_administrator_subscribes_and_only_to_https(world, producer_admin):
    with pytest.raises(PermissionDenied):
        webhook_subscribe(actor=world.alice, url="https://example.org/hooks")
    with pytest.raises(ServiceError) as refused:
        webhook_subscribe(actor=producer_admin, url="http://example.org/hooks")
    assert refused.value.field == "url"


def test_the_api_subscribes_once_showing_the_secret_and_lists_deliveries(world, producer_admin, subscriber):
    from api.helpers import JsonClient, bearer_headers

    client = JsonClient(bearer_headers(producer_admin))
    made = client.post("/webhooks", {"url": subscriber.url})
    assert made.status_code == 201 and len(made.json()["secret"]) == 64
    listed = client.get("/webhooks").json()
    assert [s["url"] for s in listed] == [subscriber.url] and "secret" not in listed[0]
    assert client.get(f"/webhooks/{made.json()['id']}/deliveries").json() == []
    assert client.delete(f"/webhooks/{made.json()['id']}").status_code == 204
    assert client.get("/webhooks").json() == []
