"""Background work of the ledger, through Django's Tasks API (run by ``greenisle db_worker``)."""

from __future__ import annotations

from django_tasks import task

from greenisle.ledger.bulk import bulk_filing_run


@task()
def bulk_filing_task(bulk_id: str) -> str:
    """File plans or declarations for all of a collector's clients; returns the final status."""
    return str(bulk_filing_run(bulk_id=bulk_id).status)
