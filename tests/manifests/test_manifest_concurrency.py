"""Two people confirming the same manifest at once: one wins, the other gets a Conflict."""

from __future__ import annotations

import pytest

from greenisle.accounts.choices import Role
from greenisle.core.errors import Conflict
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.manifests.choices import ManifestStatus
from greenisle.manifests.models import Manifest
from greenisle.manifests.services import manifest_receive, manifest_sign

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_two_concurrent_receipts_one_conflict(world, departed_manifest, make_member, run_concurrently):
    night = make_member(world.collector, Role.RECEIVER, "night_receiver", "夜班库管")
    weights = {line.pk: line.weight_kg for line in departed_manifest.lines.all()}
    outcome = run_concurrently(
        lambda: manifest_receive(
            actor=world.receiver, manifest_id=departed_manifest.pk, received_weights=weights
        ),
        lambda: manifest_receive(actor=night, manifest_id=departed_manifest.pk, received_weights=weights),
    )
    assert len(outcome.results) == 1
    assert [type(e) for e in outcome.errors] == [Conflict]
    assert Manifest.objects.get(pk=departed_manifest.pk).status == ManifestStatus.RECEIVED
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
