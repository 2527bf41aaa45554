"""Factories of the tracking app (the shared ones are in tests/factories.py)."""

from __future__ import annotations

import factory
from factories import VehicleFactory
from factory.django import DjangoModelFactory

from greenisle.tracking.models import Terminal


class TerminalFactory(DjangoModelFactory):
    """A registered terminal bound to a truck. The raw auth code is kept on the instance as ``auth_code``."""

    class Meta:
        model = Terminal
        skip_postgeneration_save = True

    phone = factory.Sequence(lambda n: f"1380013{n:04d}")
    vehicle = factory.SubFactory(VehicleFactory)
    manufacturer = "HWCAB"
    model_number = "WASTE-TRUCK-T1"
    terminal_number = factory.Sequence(lambda n: f"T{n:04d}")
    plate_color = 2

    @factory.post_generation
    def auth_code(obj, create, extracted, **kwargs):  # noqa: N805
        if extracted is not None:
            obj.set_auth_code(extracted)
            obj.auth_code = extracted
        else:
            obj.auth_code = obj.issue_auth_code()
        if create:
            obj.save(update_fields=["auth_code_hash"])
