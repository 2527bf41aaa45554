"""The demo's filings, made through the services as the collectors make them for their small clients
(HJ 1259-2022 §5.2.2, §7.1.3):

- this year's management plan of every producer, prepared from the registry (A.1) and last year's
  ledger (A.3/A.7). A client that had no waste of a code last year (it joined this year, or the code is
  new) gets the collector's estimate, the bin's yearly amount, before the plan is filed;
- last year's annual declaration (due 31 March, §7.2) of every producer that was a client last year,
  prepared from the ledger. Every collector but the demo collector submitted them for its clients; the
  demo collector's clients' declarations wait as drafts, for the demo's clerk or dispatcher to submit.

The demo producer's plan is filed by its own clerk in the walked round (:mod:`greenisle.demo.round`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction

from greenisle.accounts.models import Membership
from greenisle.demo.history import Client
from greenisle.demo.history_rows import waste
from greenisle.ledger import core as ledger_core
from greenisle.ledger.declarations import declaration_prepare, declaration_submit
from greenisle.ledger.events import COLLECTION_METHOD
from greenisle.organizations.choices import OrganizationKind
from greenisle.plans.services import plan_file, plan_in_force, plan_prepare, plan_update

Progress = Callable[[float, str], None]


def client_memberships() -> dict[Any, Membership]:
    """A collector's first admin or dispatcher: who files for its clients in the demo."""
    members: dict[Any, Membership] = {}
    for membership in (
        Membership.objects.select_related("user", "organization")
        .filter(organization__kind=OrganizationKind.COLLECTOR, role__in=["admin", "dispatcher"])
        .order_by("role", "user__username")
    ):
        members.setdefault(membership.organization_id, membership)
    return members


def rows_with_estimates(
    plan: Any, estimates_kg: Mapping[str, Decimal], receiver: Any
) -> list[dict[str, Any]] | None:
    """The plan's waste rows (A.3/A.7) with an estimate where last year's ledger had nothing: the
    amount from ``estimates_kg``, the code's form, collection (C1) by ``receiver``. None when every row
    already has an amount (the plan can be filed as prepared)."""
    rows = []
    estimated = False
    for row in plan.wastes.select_related("waste_code").prefetch_related("receivers"):
        code = row.waste_code.code
        values = {
            "waste_code": code,
            "annual_t": row.annual_t,
            "transfer_t": row.transfer_t,
            "form": row.form,
            "method": row.method,
            "receivers": [str(r.pk) for r in row.receivers.all()],
        }
        if not row.annual_t:
            estimate = ledger_core.tonnes(estimates_kg.get(code, Decimal(0)))
            values.update(
                annual_t=estimate,
                transfer_t=estimate,
                form=row.form or str(waste(code).form),
                method=row.method or COLLECTION_METHOD,
                receivers=values["receivers"] or [str(receiver.pk)],
            )
            estimated = True
        rows.append(values)
    return rows if estimated else None


def demo_filings(
    clients: Sequence[Client],
    *,
    year: int,
    skip_producer: Any,
    drafts_for: Any,
    progress: Progress | None = None,
) -> dict[str, int]:
    """File this year's plans and last year's declarations for the clients (see the module). Each
    client in its own transaction, like the collector's bulk filing."""
    report = progress or (lambda fraction, label: None)
    members = client_memberships()
    counts = {"plans_filed": 0, "declarations_submitted": 0, "declarations_draft": 0}
    last_year = ledger_core.parse_period(ledger_core.YEAR, str(year - 1))
    for index, client in enumerate(clients):
        membership = members[client.collector.pk]
        actor = membership.user
        actor.set_current_membership(membership)
        with transaction.atomic():
            if client.producer.pk != skip_producer and plan_in_force(client.site, year) is None:
                plan = plan_prepare(actor=actor, site_id=client.site.pk, year=year)
                rows = rows_with_estimates(plan, client.annual_kg, client.collector)
                if rows is not None:
                    plan_update(actor=actor, plan_id=plan.pk, wastes=rows)
                plan_file(actor=actor, plan_id=plan.pk)
                counts["plans_filed"] += 1
            if client.since <= last_year.end:
                declaration = declaration_prepare(site=client.site, period=last_year)
                if client.collector.pk == drafts_for:
                    counts["declarations_draft"] += 1
                else:
                    declaration_submit(actor=actor, declaration_id=declaration.pk)
                    counts["declarations_submitted"] += 1
        report((index + 1) / max(len(clients), 1), "备案与申报 plans and declarations")
    return counts
