"""Evidence from the platform's own records for an assessment: per item of the checklist, the facts the
platform knows about the organisation in the assessed year (counts, dates, links to the records) and
the score they suggest (``checklists.suggest_*``). An active finding on an item caps its suggestion.

Items the platform cannot know (responsibility system, emergency plan, training) get no suggestion:
the enterprise uploads a document or photo, or writes a note, and the assessor scores them.

The assessed period is the calendar year, up to today for the current year. The declaration item
looks at the year before (the annual declaration due by 31 March of the assessed year, HJ 1259 §7).

This module maps each item to its source; the sources are in ``evidence_base`` (what producers and
collectors share: plan, declaration, findings), ``evidence_producers`` and ``evidence_collectors``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from greenisle.assessment import checklists
from greenisle.assessment.evidence_base import (
    ItemEvidence,
    declaration_evidence,
    findings_cap,
    not_known,
    plan_evidence,
    window_for,
)
from greenisle.assessment.evidence_collectors import (
    labels_collector,
    ledger_collector,
    licence_evidence,
    manifests_collector,
    storage_collector,
    zones_evidence,
)
from greenisle.assessment.evidence_producers import (
    classification_producer,
    labels_producer,
    ledger_producer,
    manifests_producer,
    receivers_evidence,
    storage_producer,
)

PRODUCER_SOURCES = {
    "labels": labels_producer,
    "plan": plan_evidence,
    "ledger": ledger_producer,
    "declaration": declaration_evidence,
    "classification": classification_producer,
    "manifests": manifests_producer,
    "receivers": receivers_evidence,
    "storage": storage_producer,
}
COLLECTOR_SOURCES = {
    "licence": licence_evidence,
    "labels": labels_collector,
    "plan": plan_evidence,
    "ledger": ledger_collector,
    "declaration": declaration_evidence,
    "classification": zones_evidence,
    "manifests": manifests_collector,
    "storage": storage_collector,
}
SOURCES = {checklists.PRODUCER: PRODUCER_SOURCES, checklists.COLLECTOR: COLLECTOR_SOURCES}


def evidence_gather(
    *, organization: Any, kind: str, year: int, today: dt.date | None = None
) -> dict[str, dict[str, Any]]:
    """Item code → {"suggested", "facts", "links", "findings"} for every item of the kind's checklist."""
    window = window_for(year, today)
    sources = SOURCES[kind]
    items: dict[str, ItemEvidence] = {}
    for item in checklists.checklist(kind):
        source = sources.get(item.code)
        items[item.code] = source(organization, window) if (item.prefill and source) else not_known()
    findings_cap(organization, items)
    return {code: ev.as_dict() for code, ev in items.items()}
