"""Two people confirming the same manifest at once: one wins, the other gets a Conflict."""

from __future__ import annotations

import pytest

from greenisle.accounts.choices import Role
from greenisle.core.errors import Conflict
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.manifests.choices import ManifestStatus
from greenisle.manifests.models import Manifest
from greenisle.manifests.receipt import manifest_receive
from greenisle.manifests.services import manifest_sign

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_two_concurrent_receipts_one_conflict(world, delivered_manifest, make_member, run_concurrently):
    night = make_member(world.collector, Role.RECEIVER, "night_receiver", "夜班库管")
    weights = {line.pk: line.weight_kg for line in delivered_manifest.lines.all()}
    outcome = run_concurrently(
        lambda: manifest_receive(actor=world.receiver, manifest_id=delivered_manifest.pk, lines=weights),
        lambda: manifest_receive(actor=night, manifest_id=delivered_manifest.pk, lines=weights),
    )
    assert len(outcome.results) == 1
    assert [type(e) for e in outcome.errors] == [Conflict]
    assert Manifest.objects.get(pk=delivered_manifest.pk).status == ManifestStatus.RECEIVED
    assert LedgerRecord.objects.filter(record_type=RecordType.STORAGE_IN).count() == 2


def test_session_and_code_signature_at_once_one_conflict(world, draft_manifest, run_concurrently):
    outcome = run_concurrently(
        lambda: manifest_sign(actor=world.alice, manifest_id=draft_manifest.pk, method="session"),
        lambda: manifest_sign(
            actor=world.driver, manifest_id=draft_manifest.pk, method="code", signature_code="246810"
        ),
    )
    assert len(outcome.results) == 1
    assert [type(e) for e in outcome.errors] == [Conflict]
    assert LedgerRecord.objects.filter(record_type=RecordType.PRODUCTION).count() == 2


def test_two_corrections_proposed_at_once_one_opens(world, departed_manifest, run_concurrently):
    from greenisle.manifests.choices import CorrectionStatus
    from greenisle.manifests.corrections import correction_open
    from greenisle.manifests.models import ManifestCorrection

    oil = departed_manifest.lines.order_by("id").first()

    def propose(actor, weight):
        return lambda: correction_open(
            actor=actor,
            manifest_id=departed_manifest.pk,
            reason="复称 / re-weighed",
            changes={"lines": {str(oil.pk): {"weight_kg": weight}}},
        )

    outcome = run_concurrently(propose(world.driver, "33"), propose(world.alice, "34"))
    assert len(outcome.results) == 1
    assert [type(e) for e in outcome.errors] == [Conflict]
    assert ManifestCorrection.objects.filter(status=CorrectionStatus.OPEN).count() == 1


def test_two_loadings_of_one_label_at_once_load_it_once(world, open_request, trip, run_concurrently):
    from greenisle.manifests.labels import container_label, container_load
    from greenisle.manifests.models import LoadingRefusal, ManifestLine

    container = container_label(
        actor=world.alice,
        site_id=world.site.pk,
        waste_code="900-214-08",
        weight_kg="30",
        form="liquid",
        main_constituents="矿物油",
        hazardous_constituents="多环芳烃",
    )
    load = lambda: container_load(  # noqa: E731
        actor=world.driver, request_id=open_request.pk, scanned=container.code, weight_kg="30"
    )
    outcome = run_concurrently(load, load)
    assert not outcome.errors
    assert ManifestLine.objects.filter(container=container).count() == 1
    assert [r.reasons for r in LoadingRefusal.objects.all()] == [["already_loaded"]]
