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

from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction

from greenisle.demo.history import WASTES, Client, client_memberships
from greenisle.ledger import core as ledger_core
from greenisle.ledger.declarations import declaration_prepare, declaration_submit
from greenisle.plans.services import plan_file, plan_in_force, plan_prepare, plan_update

Progress = Callable[[float, str], None]
COLLECTION_METHOD = "C1"


def _rows_with_estimates(plan: Any, client: Client) -> list[dict[str, Any]] | None:
    """The plan's rows with the collector's estimate where last year's ledger had nothing; None when
    every row already has an amount."""
    rows = []
    estimated = False
    for waste in plan.wastes.select_related("waste_code").prefetch_related("receivers"):
        code = waste.waste_code.code
        row = {
            "waste_code": code,
            "annual_t": waste.annual_t,
            "transfer_t": waste.transfer_t,
            "form": waste.form,
            "method": waste.method,
            "receivers": [str(r.pk) for r in waste.receivers.all()],
        }
        if not waste.annual_t:
            estimate = ledger_core.tonnes(client.annual_kg.get(code, 0))
            info = WASTES.get(code)
            row.update(
                annual_t=estimate,
                transfer_t=estimate,
                form=waste.form or (str(info.form) if info else ""),
                method=waste.method or COLLECTION_METHOD,
                receivers=row["receivers"] or [str(client.collector.pk)],
            )
            estimated = True
        rows.append(row)
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
                rows = _rows_with_estimates(plan, client)
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
