"""Fixtures for the API tests: JSON clients as a person (token or session), as nobody, or as a bin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from factories import VehicleFactory

from api.helpers import JsonClient, bearer_headers
from greenisle.accounts.choices import Role
from greenisle.accounts.models import User
from greenisle.dispatch.models import PickupRequest, Trip, Vehicle
from greenisle.manifests.models import Manifest
from greenisle.manifests.receipt import manifest_receive
from greenisle.organizations.models import Organization


@pytest.fixture
def api_as(db: None) -> Callable[..., JsonClient]:
    """``api_as(alice)`` speaks with alice's Bearer token; ``api_as(alice, session=True)`` with her session;
    ``api_as(None)`` with no credentials at all."""

    def _as(user: User | None, *, session: bool = False) -> JsonClient:
        if user is None:
            return JsonClient()
        if session:
            return JsonClient(user=user)
        return JsonClient(bearer_headers(user))

    return _as


@pytest.fixture
def device() -> Callable[..., JsonClient]:
    """``device(bin)`` posts as the bin, with its X-Device-Key."""

    def _device(bin: Any, key: str | None = None) -> JsonClient:
        return JsonClient({"X-Device-Key": key if key is not None else bin.device_key})

    return _device


@pytest.fixture
def received_manifest(world: Any, delivered_manifest: Manifest) -> Manifest:
    """Alice's manifest received at the collector's warehouse: the whole loop has run, so the producer has
    production records (site in 320602) and the collector storage-in records (warehouse in 320612)."""
    weights = {str(line.pk): line.weight_kg for line in delivered_manifest.lines.all()}
    return manifest_receive(actor=world.receiver, manifest_id=delivered_manifest.pk, lines=weights)


@pytest.fixture
def rival_fleet(collector_b: Organization, make_member: Callable[..., User]) -> tuple[Vehicle, User]:
    """The second collector's truck and driver, for trying to take over Alice's work."""
    driver = make_member(collector_b, Role.DRIVER, "rival_driver", "如皋司机")
    return VehicleFactory(collector=collector_b, plate="苏F99999危"), driver


@pytest.fixture
def loop(world: Any, open_request: PickupRequest, trip: Trip, received_manifest: Manifest) -> dict[str, str]:
    """Ids of every object of Alice's loop, by kind."""
    ledger = {r.record_type: r.batch_code for r in received_manifest.ledger_records.all()}
    return {
        "bin": str(world.bin.pk),
        "request": str(open_request.pk),
        "manifest": str(received_manifest.pk),
        "trip": str(trip.pk),
        "production": ledger["production"],
        "storage_in": ledger["storage_in"],
    }
