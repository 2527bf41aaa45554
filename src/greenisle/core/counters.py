"""Row-locked counters: the one way the platform draws serial numbers (manifest numbers, batch codes).

A count of rows races and reuses numbers after deletions; a counter row locked with
SELECT … FOR UPDATE (SQLite: under the IMMEDIATE write lock) cannot.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, models, transaction


def counter_next(model: type[models.Model], **key: Any) -> int:
    """Increment and return ``last_serial`` of the counter row ``key``, creating it at 0 if missing.

    Call inside the transaction that uses the number: a rollback returns it, a commit never reuses it.
    """
    for _attempt in range(3):
        counter: Any = model._default_manager.select_for_update().filter(**key).first()
        if counter is None:
            try:
                with transaction.atomic():
                    counter = model._default_manager.create(**key)
            except IntegrityError:
                continue  # another writer created it first: lock theirs
        counter.last_serial += 1
        counter.save(update_fields=["last_serial"])
        return int(counter.last_serial)
    raise RuntimeError(f"could not obtain a serial from {model._meta.label} {key}")
